package plan

import "k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

// For the external tests (package plan_test), which use plan/plantest.

var DestructiveReasons = destructiveReasons

// NewMemCluster returns a memCluster holding live.
func NewMemCluster(live []*unstructured.Unstructured) Cluster { return &memCluster{live: live} }
