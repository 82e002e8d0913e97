package kube

import (
	"context"
	"fmt"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	"github.com/gantryops/gantry/object"
)

// Cache is a Cluster whose List answers from watches: the first List of a
// resource in a namespace (or cluster-wide) starts an informer — one LIST,
// then one long-running WATCH — and waits until it has synced; every later
// List of it is served from memory with no request at all. Everything else
// (dry-runs, applies, GETs) goes to the server as with a Cluster.
//
// It is what `gantry run` plans with, so that a reconcile that changes
// nothing costs no API request beyond the watches. The objects List returns
// are shared with the cache: callers must not modify them (the planner
// copies before it changes anything).
//
// An informer whose watch breaks (the API server restarts) keeps serving its
// last state while it re-lists with backoff; Err reports the break, so a
// caller can tell a cache it may not trust yet from an empty one.
//
// A resource whose objects may carry a top-level items field (a custom
// resource whose schema allows one) is never watched, because the API
// server cannot watch it reliably (cache_items.go): List reads it with a
// direct LIST every time. So is a resource whose watch has shown such an
// object after all.
type Cache struct {
	*Cluster
	// SyncTimeout bounds the wait for a new informer's first LIST.
	SyncTimeout time.Duration

	ctx  context.Context
	stop context.CancelFunc

	mu        sync.Mutex
	informers map[cacheKey]*informer
	// unwatchable holds the resources checked so far: why each must be
	// listed directly, "" for those served from a watch.
	unwatchable map[schema.GroupVersionResource]string
}

type cacheKey struct {
	gvr       schema.GroupVersionResource
	namespace string
}

type informer struct {
	inf  cache.SharedIndexInformer
	stop context.CancelFunc

	mu      sync.Mutex
	lastErr error  // the last list or watch error, until the next successful sync
	items   string // an object seen with a top-level items field, if any
}

// NewCache returns a Cache over c. Stop it to end its watches.
func NewCache(c *Cluster) *Cache {
	ctx, stop := context.WithCancel(context.Background())
	return &Cache{Cluster: c, SyncTimeout: time.Minute, ctx: ctx, stop: stop, informers: map[cacheKey]*informer{},
		unwatchable: map[schema.GroupVersionResource]string{}}
}

// Stop ends every watch. The cache must not be used afterwards.
func (c *Cache) Stop() {
	c.stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.informers = map[cacheKey]*informer{}
}

// List returns every object of r in namespace from the cache, starting a
// watch of it on first use. A namespaced List is served by a cluster-wide
// watch of the resource when there is one. A resource that cannot be
// watched reliably is listed directly.
func (c *Cache) List(ctx context.Context, r object.Resource, namespace string) ([]*unstructured.Unstructured, error) {
	if !r.Namespaced {
		namespace = ""
	}
	why, err := c.watchable(ctx, r.GVR)
	if err != nil {
		return nil, err
	}
	if why != "" {
		return c.Cluster.List(ctx, r, namespace)
	}
	objs, inf, err := c.listWatched(ctx, r, namespace)
	if err != nil {
		return nil, err
	}
	if seen := inf.itemsSeen(); seen != "" {
		// The schema did not say so, but the watch showed one: its events
		// can no longer be trusted.
		c.listDirectly(r.GVR, fmt.Sprintf("object %s has a top-level items field", seen))
		return c.Cluster.List(ctx, r, namespace)
	}
	return objs, nil
}

// listWatched returns the objects of r in namespace from a watch, and the
// informer they come from.
func (c *Cache) listWatched(ctx context.Context, r object.Resource, namespace string) ([]*unstructured.Unstructured, *informer, error) {
	c.mu.Lock()
	wide, hasWide := c.informers[cacheKey{r.GVR, ""}]
	c.mu.Unlock()
	if hasWide && namespace != "" {
		if err := c.synced(ctx, cacheKey{r.GVR, ""}, wide); err == nil {
			return fromIndexer(wide.inf.GetStore().List(), namespace), wide, nil
		}
	}
	key := cacheKey{r.GVR, namespace}
	inf, err := c.informer(ctx, key, r)
	if err != nil {
		return nil, nil, err
	}
	return fromIndexer(inf.inf.GetStore().List(), ""), inf, nil
}

// watchable returns why gvr must be listed directly, "" when it may be
// served from a watch, asking the server once per resource.
func (c *Cache) watchable(ctx context.Context, gvr schema.GroupVersionResource) (string, error) {
	c.mu.Lock()
	why, known := c.unwatchable[gvr]
	c.mu.Unlock()
	if known {
		return why, nil
	}
	why, err := c.Cluster.unwatchable(ctx, gvr)
	if err != nil {
		return "", err
	}
	if why == "" {
		c.mu.Lock()
		c.unwatchable[gvr] = ""
		c.mu.Unlock()
		return "", nil
	}
	c.listDirectly(gvr, why)
	return why, nil
}

// listDirectly makes every later List of gvr a direct LIST, and ends its
// watches.
func (c *Cache) listDirectly(gvr schema.GroupVersionResource, why string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.unwatchable[gvr] != "" {
		return
	}
	c.unwatchable[gvr] = why
	for key, inf := range c.informers {
		if key.gvr == gvr {
			inf.stop()
			delete(c.informers, key)
		}
	}
	c.log.Info("resource not watched: listed directly at every plan", "resource", gvr.String(), "reason", why)
}

func fromIndexer(items []any, namespace string) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, 0, len(items))
	for _, it := range items {
		u, ok := it.(*unstructured.Unstructured)
		if ok && (namespace == "" || u.GetNamespace() == namespace) {
			out = append(out, u)
		}
	}
	return out
}

// informer returns the synced informer for key, starting it if needed.
func (c *Cache) informer(ctx context.Context, key cacheKey, r object.Resource) (*informer, error) {
	c.mu.Lock()
	inf, ok := c.informers[key]
	if !ok {
		inf = c.start(key, r)
		c.informers[key] = inf
	}
	c.mu.Unlock()
	if err := c.synced(ctx, key, inf); err != nil {
		return nil, err
	}
	return inf, nil
}

// start creates and runs an informer; the caller holds c.mu.
func (c *Cache) start(key cacheKey, r object.Resource) *informer {
	ri := c.resource(r, key.namespace)
	inf := &informer{}
	// A LIST or WATCH that the server answers clears the last error: the
	// informer is connected again.
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			list, err := ri.List(ctx, opts)
			inf.setErr(err)
			if err != nil {
				return nil, err
			}
			for i := range list.Items {
				inf.checkItems(&list.Items[i])
			}
			return list, nil
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			w, err := ri.Watch(ctx, opts)
			inf.setErr(err)
			if err != nil {
				return nil, err
			}
			return watch.Filter(w, func(e watch.Event) (watch.Event, bool) {
				if u, ok := e.Object.(*unstructured.Unstructured); ok {
					inf.checkItems(u)
				}
				return e, true
			}), nil
		},
	}
	inf.inf = cache.NewSharedIndexInformer(lw, &unstructured.Unstructured{}, 0, cache.Indexers{})
	_ = inf.inf.SetWatchErrorHandlerWithContext(func(ctx context.Context, r *cache.Reflector, err error) {
		inf.setErr(err)
		c.log.Debug("watch broken, re-listing", "resource", key.gvr.String(), "namespace", key.namespace, "error", err)
		cache.DefaultWatchErrorHandler(ctx, r, err)
	})
	ctx, stop := context.WithCancel(c.ctx)
	inf.stop = stop
	go inf.inf.RunWithContext(ctx)
	return inf
}

func (inf *informer) setErr(err error) {
	inf.mu.Lock()
	defer inf.mu.Unlock()
	inf.lastErr = err
}

// checkItems notes u when it carries a top-level items field.
func (inf *informer) checkItems(u *unstructured.Unstructured) {
	if !hasItems(u) {
		return
	}
	inf.mu.Lock()
	defer inf.mu.Unlock()
	if inf.items == "" {
		inf.items = object.RefOf(u).String()
	}
}

// itemsSeen names an object seen with a top-level items field, or "".
func (inf *informer) itemsSeen() string {
	inf.mu.Lock()
	defer inf.mu.Unlock()
	return inf.items
}

func (inf *informer) err() error {
	inf.mu.Lock()
	defer inf.mu.Unlock()
	return inf.lastErr
}

// synced waits until inf has synced, or fails when its first LIST fails
// (the informer is dropped, so the next List starts afresh) or ctx ends.
func (c *Cache) synced(ctx context.Context, key cacheKey, inf *informer) error {
	if inf.inf.HasSynced() {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.SyncTimeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !inf.inf.HasSynced() {
		err := inf.err()
		if err == nil {
			select {
			case <-ctx.Done():
				err = ctx.Err()
			case <-tick.C:
				continue
			}
		}
		c.drop(key, inf)
		where := key.gvr.Resource
		if key.namespace != "" {
			where += " in namespace " + key.namespace
		}
		return fmt.Errorf("list %s: %w", where, describeTransport(c.host, err))
	}
	return nil
}

func (c *Cache) drop(key cacheKey, inf *informer) {
	inf.stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.informers[key] == inf {
		delete(c.informers, key)
	}
}

// Err returns the error of a watch that is broken now (its last LIST or
// WATCH failed and none has succeeded since), or nil when every watch is
// connected. A broken watch's objects may be out of date.
func (c *Cache) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for key, inf := range c.informers {
		if err := inf.err(); err != nil {
			return fmt.Errorf("watch of %s: %w", key.gvr.Resource, describeTransport(c.host, err))
		}
	}
	return nil
}
