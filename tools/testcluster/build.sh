#!/usr/bin/env bash
# Builds the test control plane (kube-apiserver, kube-controller-manager, etcd)
# from the Go modules pinned in this directory's go.mod into $1 (default: ../../bin).
# A binary that already reports the pinned version is left alone, so a second
# `make testcluster` costs a few milliseconds.
set -euo pipefail
cd "$(dirname "$0")"
out=$(realpath -m "${1:-../../bin}")
mkdir -p "$out"

k8s_version=v1.37.2
etcd_version=3.7.0
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=${k8s_version}
 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37
 -X k8s.io/component-base/version.gitTreeState=clean"

build() { # name, package, expected substring of `name --version`
	local name=$1 pkg=$2 want=$3
	if [ -x "$out/$name" ] && "$out/$name" --version 2>/dev/null | grep -qF -- "$want"; then
		echo "testcluster: $name is up to date ($want)"
		return
	fi
	echo "testcluster: building $name ($want); the first build takes several minutes"
	CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out/$name.tmp" "$pkg"
	mv "$out/$name.tmp" "$out/$name"
}

build etcd go.etcd.io/etcd/server/v3 "etcd Version: ${etcd_version}"
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "Kubernetes ${k8s_version}"
build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager "Kubernetes ${k8s_version}"
