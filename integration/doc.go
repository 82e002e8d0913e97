// Package integration holds gantry's end-to-end tests. They run against a real
// kube-apiserver, kube-controller-manager and etcd started once per test
// binary by TestMain (see internal/testcluster), and fail, never skip, when
// that control plane cannot start. Each test works in its own namespace.
package integration
