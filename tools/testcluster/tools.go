//go:build tools

// Package testcluster pins the Kubernetes control-plane binaries that gantry's
// integration tests and demo run against. It is built by `make testcluster`
// into bin/ and never imported by gantry itself.
package testcluster

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
