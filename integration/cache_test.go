package integration

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gantryops/gantry/integration/harness"
	"github.com/gantryops/gantry/kube"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/stack"
)

func hasItemsField(u *unstructured.Unstructured) bool {
	_, ok := u.Object["items"]
	return ok
}

// itemsCRD is a CustomResourceDefinition of kind plural "<plural>" in group
// items.example.com whose root schema is rootSchema.
func itemsCRD(kind, plural, rootSchema string) string {
	return fmt.Sprintf(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: %[2]s.items.example.com}
spec:
  group: items.example.com
  names: {kind: %[1]s, plural: %[2]s}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: %[3]s}
`, kind, plural, rootSchema)
}

// TestCacheSeesObjectsWithItems: custom resources whose objects carry a
// top-level items field. The API server takes such an object for a list
// when it decodes it: its own watch cache of the resource stops, and a
// watch sees no event of any object of the resource (for half a minute
// here, until the server rebuilds its cache): gantry run's cache returned
// none of five such objects, nor an ordinary one made after them, and no
// error, so a plan would take them for absent. Resources whose schema lets
// objects carry a top-level items field (x-kubernetes-preserve-unknown-fields
// at the root, or an items property) are listed directly at every List,
// never served from a watch; every object is there at once, its items
// intact, as with a direct LIST (kube/read.go). A CRD loosened to allow
// items after its resource was watched: the first such object the watch
// shows (once the server has rebuilt its cache) makes the resource listed
// directly from then on. A resource whose schema cannot carry one is still
// watched: its second List sends no request.
func TestCacheSeesObjectsWithItems(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	crds := env.NewStack(t, stack.Stack{Name: "items-crds", Target: stack.Target{Namespace: ns}})
	crds.Apply(t, crds.Plan(t, parseObjects(t,
		itemsCRD("Loose", "looses", "{type: object, x-kubernetes-preserve-unknown-fields: true}"),
		itemsCRD("Listy", "listies", "{type: object, properties: {items: {type: string}, spec: {type: object, x-kubernetes-preserve-unknown-fields: true}}}"),
		itemsCRD("Strict", "stricts", "{type: object, properties: {spec: {type: object, x-kubernetes-preserve-unknown-fields: true}}}"),
	), plan.DiffAuto))
	ctx := context.Background()
	for _, tc := range []struct {
		kind, plural string
		items        any
	}{
		{"Loose", "looses", map[string]any{"a": "b"}},
		{"Listy", "listies", "some text"},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			t.Parallel()
			res := object.Resource{GVR: schema.GroupVersionResource{Group: "items.example.com", Version: "v1", Resource: tc.plural}, Namespaced: true}
			objects := crds.Dynamic.Resource(res.GVR).Namespace(ns)
			harness.Eventually(t, 20*time.Second, "the CRD served", func(ctx context.Context) error {
				_, err := objects.List(ctx, metav1.ListOptions{})
				return err
			})
			c := kube.NewCache(crds.Kube)
			t.Cleanup(c.Stop)
			if got, err := c.List(ctx, res, ns); err != nil || len(got) != 0 {
				t.Fatalf("first List = %d objects, %v; want none", len(got), err)
			}
			want := []string{"plain"}
			create := func(name string, items any) {
				u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "items.example.com/v1", "kind": tc.kind,
					"metadata": map[string]any{"name": name, "namespace": ns}, "spec": map[string]any{"n": name}}}
				if items != nil {
					u.Object["items"] = items
				}
				if _, err := objects.Create(ctx, u, metav1.CreateOptions{}); err != nil {
					t.Fatalf("create %s: %v", name, err)
				}
			}
			for i := range 5 {
				name := fmt.Sprintf("with-items-%d", i)
				create(name, tc.items)
				want = append(want, name)
			}
			create("plain", nil)
			slices.Sort(want)

			check := func(what string, list func(context.Context) ([]*unstructured.Unstructured, error)) {
				t.Helper()
				harness.Eventually(t, 5*time.Second, what+" lists every object", func(ctx context.Context) error {
					got, err := list(ctx)
					if err != nil {
						return err
					}
					var names []string
					for _, u := range got {
						names = append(names, u.GetName())
						if _, has := u.Object["items"]; has != strings.HasPrefix(u.GetName(), "with-items") {
							return fmt.Errorf("%s: items field %v", u.GetName(), u.Object["items"])
						}
					}
					slices.Sort(names)
					if !slices.Equal(names, want) {
						return fmt.Errorf("listed %v, want %v", names, want)
					}
					return nil
				})
			}
			check("the cache", func(ctx context.Context) ([]*unstructured.Unstructured, error) { return c.List(ctx, res, ns) })
			if err := c.Err(); err != nil {
				t.Errorf("cache error: %v", err)
			}
			check("a direct LIST", func(ctx context.Context) ([]*unstructured.Unstructured, error) { return crds.Kube.List(ctx, res, ns) })
			fresh := kube.NewCache(crds.Kube)
			t.Cleanup(fresh.Stop)
			check("a new cache", func(ctx context.Context) ([]*unstructured.Unstructured, error) { return fresh.List(ctx, res, ns) })
		})
	}

	// A CRD changed to allow items after the cache decided to watch its
	// resource: the watch shows the first such object (once the server has
	// rebuilt its own cache), and from then on the resource is listed
	// directly.
	t.Run("Loosened", func(t *testing.T) {
		t.Parallel()
		res := object.Resource{GVR: schema.GroupVersionResource{Group: "items.example.com", Version: "v1", Resource: "loosenings"}, Namespaced: true}
		crds := env.NewStack(t, stack.Stack{Name: "items-loosened", Target: stack.Target{Namespace: ns}})
		crds.Apply(t, crds.Plan(t, parseObjects(t, itemsCRD("Loosening", "loosenings", "{type: object, properties: {spec: {type: object}}}")), plan.DiffAuto))
		c := kube.NewCache(crds.Kube)
		t.Cleanup(c.Stop)
		harness.Eventually(t, 20*time.Second, "the CRD served", func(ctx context.Context) error {
			_, err := c.List(ctx, res, ns)
			return err
		})
		crds.Apply(t, crds.Plan(t, parseObjects(t, itemsCRD("Loosening", "loosenings", "{type: object, x-kubernetes-preserve-unknown-fields: true}")), plan.DiffAuto))
		objects := crds.Dynamic.Resource(res.GVR).Namespace(ns)
		started := time.Now()
		harness.Eventually(t, 20*time.Second, "an object with items kept", func(ctx context.Context) error {
			u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "items.example.com/v1", "kind": "Loosening",
				"metadata": map[string]any{"name": "with-items", "namespace": ns}, "items": "x"}}
			if _, err := objects.Create(ctx, u, metav1.CreateOptions{}); err != nil {
				return err
			}
			got, err := objects.Get(ctx, "with-items", metav1.GetOptions{})
			if err == nil && !hasItemsField(got) {
				err = errors.New("items pruned: the new schema is not in force yet")
				_ = objects.Delete(ctx, "with-items", metav1.DeleteOptions{})
			}
			return err
		})
		harness.Eventually(t, 90*time.Second, "the cache sees the object", func(ctx context.Context) error {
			got, err := c.List(ctx, res, ns)
			if err != nil || len(got) != 1 || !hasItemsField(got[0]) {
				return fmt.Errorf("listed %d objects, %v", len(got), err)
			}
			return nil
		})
		t.Logf("seen after %s", time.Since(started))
		before := crds.Kube.Stats()
		if _, err := c.List(ctx, res, ns); err != nil {
			t.Fatal(err)
		}
		if n := crds.Kube.Stats().Lists - before.Lists; n != 1 {
			t.Errorf("a List after the object was seen sent %d LISTs, want 1 (listed directly)", n)
		}
	})

	t.Run("Strict", func(t *testing.T) {
		t.Parallel()
		res := object.Resource{GVR: schema.GroupVersionResource{Group: "items.example.com", Version: "v1", Resource: "stricts"}, Namespaced: true}
		c := kube.NewCache(crds.Kube)
		t.Cleanup(c.Stop)
		harness.Eventually(t, 20*time.Second, "the CRD served", func(ctx context.Context) error {
			_, err := c.List(ctx, res, ns)
			return err
		})
		before := crds.Kube.Stats()
		if _, err := c.List(ctx, res, ns); err != nil {
			t.Fatal(err)
		}
		if n := crds.Kube.Stats().Total - before.Total; n != 0 {
			t.Errorf("a List of a watched resource sent %d requests, want none", n)
		}
	})
}
