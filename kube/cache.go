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
type Cache struct {
	*Cluster
	// SyncTimeout bounds the wait for a new informer's first LIST.
	SyncTimeout time.Duration

	ctx  context.Context
	stop context.CancelFunc

	mu        sync.Mutex
	informers map[cacheKey]*informer
}

type cacheKey struct {
	gvr       schema.GroupVersionResource
	namespace string
}

type informer struct {
	inf  cache.SharedIndexInformer
	stop context.CancelFunc

	mu      sync.Mutex
	lastErr error // the last list or watch error, until the next successful sync
}

// NewCache returns a Cache over c. Stop it to end its watches.
func NewCache(c *Cluster) *Cache {
	ctx, stop := context.WithCancel(context.Background())
	return &Cache{Cluster: c, SyncTimeout: time.Minute, ctx: ctx, stop: stop, informers: map[cacheKey]*informer{}}
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
// watch of the resource when there is one.
func (c *Cache) List(ctx context.Context, r object.Resource, namespace string) ([]*unstructured.Unstructured, error) {
	if !r.Namespaced {
		namespace = ""
	}
	c.mu.Lock()
	wide, hasWide := c.informers[cacheKey{r.GVR, ""}]
	c.mu.Unlock()
	if hasWide && namespace != "" {
		if err := c.synced(ctx, cacheKey{r.GVR, ""}, wide); err == nil {
			return fromIndexer(wide.inf.GetStore().List(), namespace), nil
		}
	}
	key := cacheKey{r.GVR, namespace}
	inf, err := c.informer(ctx, key, r)
	if err != nil {
		return nil, err
	}
	return fromIndexer(inf.inf.GetStore().List(), ""), nil
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
			return list, err
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			w, err := ri.Watch(ctx, opts)
			inf.setErr(err)
			return w, err
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
