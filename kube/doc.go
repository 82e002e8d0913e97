// Package kube is gantry's access to a Kubernetes cluster: a Cluster built
// from a rest.Config that maps kinds to resources (discovery), reads live
// objects with one LIST per resource and namespace, sends server-side
// dry-run applies, and predicts applies locally from the cluster's OpenAPI
// schema and managed fields for --diff=local. It counts every request it
// makes (Stats) and turns client-side rate limiting off when the server
// enforces API Priority and Fairness.
package kube
