// Package testcluster runs a real Kubernetes control plane on loopback for
// gantry's integration tests, benchmarks and demo: etcd, kube-apiserver and
// kube-controller-manager, as built by `make testcluster` into bin/ from
// tools/testcluster. It makes its own certificates and credentials, picks free
// ports, returns a *rest.Config and a kubeconfig file, and stops every process
// it started by process id.
//
// No scheduler or kubelet runs: Pods stay Pending, so tests that need
// readiness set status themselves. Garbage collection, namespace deletion and
// the workload controllers do run.
package testcluster
