package plan

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gantryops/gantry/internal/crash"
	"github.com/gantryops/gantry/object"
)

// maxNamespacedLists: a namespaced resource used in at most this many
// namespaces is listed per namespace (which namespace-scoped credentials
// allow); in more, with one cluster-wide LIST.
const maxNamespacedLists = 3

// listTarget is one LIST request.
type listTarget struct {
	res       object.Resource
	namespace string
}

// located is an object whose resource is known.
type located struct {
	ref ObjectRef
	res object.Resource
}

// readLive lists every resource the desired objects and the inventory use,
// and keeps the live objects the plan is about.
func (r *run) readLive(ctx context.Context) error {
	var items []located
	for _, d := range slices.Concat(r.desired, r.hooks) {
		if d.pending == "" { // nothing of a kind whose CRD is not there yet exists
			items = append(items, located{d.ref, d.res})
		}
	}
	for _, o := range r.in.Inventory {
		res, ok, err := resourceFor(r.cluster, o.Ref, o.APIVersion)
		if err != nil {
			return fmt.Errorf("inventory object %s: %w", o.Ref, err)
		}
		if ok {
			items = append(items, located{o.Ref, res})
		}
	}
	var err error
	r.live, err = readObjects(ctx, r.cluster, r.opts.Concurrency, items, &r.lists)
	if err != nil {
		return err
	}

	// An object in a Namespace this plan creates cannot be dry-run yet.
	isDesired := make(map[ObjectRef]bool, len(r.desired))
	for _, d := range r.desired {
		isDesired[d.ref] = true
	}
	for _, d := range r.desired {
		if d.pending != "" || !d.res.Namespaced || r.live[d.ref] != nil {
			continue
		}
		ns := ObjectRef{Kind: "Namespace", Name: d.ref.Namespace}
		if r.live[ns] == nil && isDesired[ns] {
			d.pending = fmt.Sprintf("its Namespace %s is created by this plan", d.ref.Namespace)
		}
	}
	return nil
}

// resourceFor maps ref at apiVersion to its resource; ok is false when the
// cluster no longer serves the kind (a deleted CRD), so no such object exists.
func resourceFor(c Cluster, ref ObjectRef, apiVersion string) (object.Resource, bool, error) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return object.Resource{}, false, fmt.Errorf("apiVersion %q: %w", apiVersion, err)
	}
	res, err := c.Resource(gv.WithKind(ref.Kind))
	if meta.IsNoMatchError(err) {
		return object.Resource{}, false, nil
	}
	return res, err == nil, err
}

// readObjects lists the resources of items, one LIST per resource and
// namespace (or one cluster-wide LIST for a resource spread over more than
// maxNamespacedLists namespaces), concurrently, and returns the live objects
// among items. lists counts the requests.
func readObjects(ctx context.Context, c Cluster, concurrency int, items []located, lists *atomic.Int64) (map[ObjectRef]*unstructured.Unstructured, error) {
	wanted := map[ObjectRef]bool{}
	for _, it := range items {
		wanted[it.ref] = true
	}
	live := map[ObjectRef]*unstructured.Unstructured{}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for _, t := range listTargets(items) {
		g.Go(func() error {
			return crash.Catch(func() error {
				lists.Add(1)
				objs, err := c.List(gctx, t.res, t.namespace)
				if err != nil {
					return err
				}
				mu.Lock()
				defer mu.Unlock()
				for _, u := range objs {
					ref := object.RefOf(u)
					if !wanted[ref] {
						continue
					}
					// The server decodes metadata strictly, so this holds for
					// any object it returns; checked here because everything
					// after reads labels, annotations and managed fields with
					// getters that would read other content as absent.
					if err := object.CheckTypes(u); err != nil {
						return fmt.Errorf("live object %s: %w", ref, err)
					}
					live[ref] = u
				}
				return nil
			})
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return live, nil
}

// listTargets are the LISTs that read items: one per resource and
// namespace, or one cluster-wide for a resource spread over more than
// maxNamespacedLists namespaces; in a stable order.
func listTargets(items []located) []listTarget {
	namespaces := map[schema.GroupVersionResource]map[string]bool{}
	resources := map[schema.GroupVersionResource]object.Resource{}
	for _, it := range items {
		resources[it.res.GVR] = it.res
		if namespaces[it.res.GVR] == nil {
			namespaces[it.res.GVR] = map[string]bool{}
		}
		namespaces[it.res.GVR][it.ref.Namespace] = true
	}
	var targets []listTarget
	for gvr, res := range resources {
		nss := namespaces[gvr]
		if !res.Namespaced || len(nss) > maxNamespacedLists {
			targets = append(targets, listTarget{res: res})
			continue
		}
		for ns := range nss {
			targets = append(targets, listTarget{res: res, namespace: ns})
		}
	}
	slices.SortFunc(targets, func(a, b listTarget) int {
		return cmp.Or(
			cmp.Compare(a.res.GVR.Group, b.res.GVR.Group),
			cmp.Compare(a.res.GVR.Resource, b.res.GVR.Resource),
			cmp.Compare(a.res.GVR.Version, b.res.GVR.Version),
			cmp.Compare(a.namespace, b.namespace),
		)
	})
	return targets
}
