// Package plantest holds fixtures for the tests of plan and its
// sub-packages (render, planfile): a small plan with one change of each
// action, and the key its digest is under (objects are read with internal/objtest).
package plantest

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/internal/objtest"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
)

// Key is the hash key of the tests' stack.
var Key = object.HashKey("test key")

// KeyOf gives every stack Key.
func KeyOf(string) (object.HashKey, error) { return Key, nil }

// Example is a small plan of stack "shop" with one change of each action
// (create, update with drift, delete, replace), destructive for deleting a
// Namespace, its digest under Key.
func Example(t testing.TB) *plan.Plan {
	t.Helper()
	cm := objtest.Parse(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: \"n\"}\ndata: {k: v}\n")
	p := &plan.Plan{
		FormatVersion: plan.FormatVersion, ID: "id", Stack: "shop", CreatedAt: time.Unix(0, 0).UTC(),
		Source:  plan.Source{Repo: "repo", Ref: "main", Commit: "0123456789abcdef0123456789abcdef01234567", Path: "."},
		Cluster: "https://cluster", Mode: plan.DiffAuto, Options: plan.Options{Prune: true, MaxPrunePercent: 25},
		Desired: []*unstructured.Unstructured{cm,
			objtest.Parse(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: \"n\"}\ndata: {k: new}\n"),
			objtest.Parse(t, "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: \"n\"}\nspec: {clusterIP: 10.0.0.2}\n")},
		Changes: []plan.Change{
			{Ref: object.Ref{Kind: "ConfigMap", Namespace: "n", Name: "a"}, APIVersion: "v1", Action: plan.ActionCreate, After: cm},
			{Ref: object.Ref{Kind: "ConfigMap", Namespace: "n", Name: "b"}, APIVersion: "v1", Action: plan.ActionUpdate,
				Before: objtest.Parse(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata: {k: old}\n"),
				After:  objtest.Parse(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata: {k: new}\n"), Drift: true},
			{Ref: object.Ref{Kind: "Namespace", Name: "gone"}, APIVersion: "v1", Action: plan.ActionDelete, Reason: "no longer rendered by the revision",
				Before: objtest.Parse(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: gone}\n")},
			{Ref: object.Ref{Kind: "Service", Namespace: "n", Name: "s"}, APIVersion: "v1", Action: plan.ActionReplace, Reason: "spec.clusterIP cannot be changed in place (immutable)",
				Before: objtest.Parse(t, "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {clusterIP: 10.0.0.1}\n"),
				After:  objtest.Parse(t, "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {clusterIP: 10.0.0.2}\n")},
		},
		// What the planner finds destructive in it (plan's TestSummaryAndDestructive checks).
		Destructive: []string{"deletes Namespace/gone"},
	}
	var err error
	if p.Digest, err = plan.Digest(p, Key); err != nil {
		t.Fatal(err)
	}
	return p
}
