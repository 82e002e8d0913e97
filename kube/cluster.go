package kube

import (
	"context"
	"net/http"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/disk"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/gantryops/gantry/object"
)

// FieldManager is the field manager gantry applies as.
const FieldManager = "gantry"

// Options configures Connect.
type Options struct {
	// QPS and Burst limit requests on the client side when the server does
	// not enforce API Priority and Fairness. With APF (every response says so
	// in its headers) the client does not limit itself: the server paces its
	// clients, and a client-side limit would only slow gantry down.
	QPS   float32
	Burst int
	// DiscoveryCacheDir caches discovery on disk, as kubectl does (same
	// layout, so the two share it), for DiscoveryTTL. Empty: memory only.
	DiscoveryCacheDir string
	DiscoveryTTL      time.Duration
	// Logger receives debug lines; nil discards them.
	Logger hclog.Logger
}

// DefaultOptions returns 50 QPS, burst 100 for servers without APF, and no
// disk cache.
func DefaultOptions() Options { return Options{QPS: 50, Burst: 100, DiscoveryTTL: 6 * time.Hour} }

// Cluster is a connection to one Kubernetes API server.
type Cluster struct {
	dynamic   dynamic.Interface
	discovery discovery.CachedDiscoveryInterface
	mapper    *restmapper.DeferredDiscoveryRESTMapper

	capsMu        sync.Mutex
	serverVersion string // once known (Capabilities)
	counter       *counter
	host          string
	log           hclog.Logger

	convMu     sync.Mutex
	converters map[schema.GroupVersion]managedfields.TypeConverter

	resMu     sync.Mutex
	resources map[schema.GroupVersionKind]object.Resource // found mappings, asked once per kind
}

// Connect returns a Cluster for cfg. It sends no request: discovery happens
// on first use (from the disk cache when warm), and whether the server
// enforces API Priority and Fairness is read from the first response.
func Connect(_ context.Context, cfg *rest.Config, opts Options) (*Cluster, error) {
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	cfg = rest.CopyConfig(cfg)
	ctr := &counter{}
	wrap := cfg.WrapTransport
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		if wrap != nil {
			rt = wrap(rt)
		}
		ctr.next = rt
		return ctr
	}
	cfg.UserAgent = "gantry"
	if opts.QPS == 0 {
		opts.QPS, opts.Burst = DefaultOptions().QPS, DefaultOptions().Burst
	}
	cfg.RateLimiter = newAdaptiveLimiter(ctr, opts.QPS, opts.Burst)

	c := &Cluster{counter: ctr, host: cfg.Host, log: log.Named("kube"), converters: map[schema.GroupVersion]managedfields.TypeConverter{}, resources: map[schema.GroupVersionKind]object.Resource{}}
	if opts.DiscoveryCacheDir != "" {
		ttl := opts.DiscoveryTTL
		if ttl == 0 {
			ttl = DefaultOptions().DiscoveryTTL
		}
		dc, err := disk.NewCachedDiscoveryClientForConfig(cfg,
			filepath.Join(opts.DiscoveryCacheDir, "discovery", cacheDirName(cfg.Host)),
			filepath.Join(opts.DiscoveryCacheDir, "http"), ttl)
		if err != nil {
			return nil, err
		}
		c.discovery = dc
	} else {
		dc, err := discovery.NewDiscoveryClientForConfig(cfg)
		if err != nil {
			return nil, err
		}
		c.discovery = memory.NewMemCacheClient(dc)
	}
	c.mapper = restmapper.NewDeferredDiscoveryRESTMapper(c.discovery)
	var err error
	if c.dynamic, err = dynamic.NewForConfig(cfg); err != nil {
		return nil, err
	}
	return c, nil
}

var (
	scheme           = regexp.MustCompile(`^https?://`)
	unsafeCacheChars = regexp.MustCompile(`[^(\w/.)]`)
)

// cacheDirName is kubectl's name for a server's discovery cache directory.
func cacheDirName(host string) string {
	return unsafeCacheChars.ReplaceAllString(scheme.ReplaceAllString(host, ""), "_")
}

// Host returns the API server's URL.
func (c *Cluster) Host() string { return c.host }

// PriorityAndFairness reports whether the server's responses so far say it
// enforces API Priority and Fairness (false before the first response).
func (c *Cluster) PriorityAndFairness() bool { return c.counter.apf.Load() == apfYes }

// Stats returns the requests sent so far.
func (c *Cluster) Stats() Stats { return c.counter.stats() }

// Resource maps a kind to its resource. An unknown kind is an error for
// which meta.IsNoMatchError is true.
func (c *Cluster) Resource(gvk schema.GroupVersionKind) (object.Resource, error) {
	c.resMu.Lock()
	res, ok := c.resources[gvk]
	c.resMu.Unlock()
	if ok {
		return res, nil
	}
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		// The kind may have been added since discovery was cached (a CRD
		// applied a moment ago): look once more before giving up.
		c.mapper.Reset()
		m, err = c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return object.Resource{}, describeTransport(c.host, err)
	}
	res = object.Resource{GVR: m.Resource, Namespaced: m.Scope.Name() == meta.RESTScopeNameNamespace}
	c.resMu.Lock()
	c.resources[gvk] = res
	c.resMu.Unlock()
	return res, nil
}
