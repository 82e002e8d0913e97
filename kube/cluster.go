package kube

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/hashicorp/go-hclog"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/discovery"
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
	// not enforce API Priority and Fairness. With APF they are ignored and
	// client-side limiting is off: the server paces its clients itself.
	QPS   float32
	Burst int
	// Logger receives debug lines; nil discards them.
	Logger hclog.Logger
}

// DefaultOptions returns 50 QPS, burst 100 for servers without APF.
func DefaultOptions() Options { return Options{QPS: 50, Burst: 100} }

// Cluster is a connection to one Kubernetes API server.
type Cluster struct {
	dynamic   dynamic.Interface
	discovery discovery.CachedDiscoveryInterface
	mapper    *restmapper.DeferredDiscoveryRESTMapper
	counter   *counter
	apf       bool
	host      string
	log       hclog.Logger

	convMu     sync.Mutex
	converters map[schema.GroupVersion]managedfields.TypeConverter
}

// Connect probes the server (one request, which also tells whether it
// enforces API Priority and Fairness) and returns a Cluster.
func Connect(ctx context.Context, cfg *rest.Config, opts Options) (*Cluster, error) {
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

	probe, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", cfg.Host, err)
	}
	if _, err := probe.ServerVersion(); err != nil {
		return nil, fmt.Errorf("connect to %s: %w: check --kubeconfig / --context and that the API server is up", cfg.Host, err)
	}
	c := &Cluster{counter: ctr, host: cfg.Host, log: log.Named("kube"), converters: map[schema.GroupVersion]managedfields.TypeConverter{}}
	if c.apf = ctr.apf.Load(); c.apf {
		cfg.QPS, cfg.Burst = -1, 0 // APF: the server paces us
	} else {
		cfg.QPS, cfg.Burst = opts.QPS, opts.Burst
	}
	c.log.Debug("connected", "host", cfg.Host, "priority_and_fairness", c.apf)

	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	c.discovery = memory.NewMemCacheClient(dc)
	c.mapper = restmapper.NewDeferredDiscoveryRESTMapper(c.discovery)
	if c.dynamic, err = dynamic.NewForConfig(cfg); err != nil {
		return nil, err
	}
	return c, nil
}

// Host returns the API server's URL.
func (c *Cluster) Host() string { return c.host }

// PriorityAndFairness reports whether the server enforces API Priority and
// Fairness, in which case the client does not rate-limit itself.
func (c *Cluster) PriorityAndFairness() bool { return c.apf }

// Stats returns the requests sent so far.
func (c *Cluster) Stats() Stats { return c.counter.stats() }

// Resource maps a kind to its resource. An unknown kind is an error for
// which meta.IsNoMatchError is true.
func (c *Cluster) Resource(gvk schema.GroupVersionKind) (object.Resource, error) {
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		// The kind may have been added since discovery was cached (a CRD
		// applied a moment ago): look once more before giving up.
		c.mapper.Reset()
		m, err = c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return object.Resource{}, err
	}
	return object.Resource{GVR: m.Resource, Namespaced: m.Scope.Name() == meta.RESTScopeNameNamespace}, nil
}
