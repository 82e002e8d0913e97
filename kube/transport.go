package kube

import (
	"net/http"
	"strings"
	"sync/atomic"
)

// Stats counts the requests a Cluster sent, by what they were for.
type Stats struct {
	// Total is every request, discovery and OpenAPI included.
	Total int64 `json:"total"`
	// Lists are LIST requests of objects.
	Lists int64 `json:"lists"`
	// DryRuns are server-side dry-run applies.
	DryRuns int64 `json:"dry_runs"`
	// Writes are requests that change the cluster (not dry-run).
	Writes int64 `json:"writes"`
	// Other is everything else: discovery, OpenAPI, GETs, watches.
	Other int64 `json:"other"`
}

// counter is an http.RoundTripper that counts requests and notices whether
// the server answers with API Priority and Fairness headers.
type counter struct {
	next                                 http.RoundTripper
	total, lists, dryRuns, writes, other atomic.Int64
	apf                                  atomic.Int32 // apfUnknown, apfYes or apfNo
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.total.Add(1)
	dryRun := r.URL.Query().Get("dryRun") != ""
	switch {
	case dryRun:
		c.dryRuns.Add(1)
	case r.Method == http.MethodGet && isObjectList(r.URL.Path) && r.URL.Query().Get("watch") == "":
		c.lists.Add(1)
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		c.writes.Add(1)
	default:
		c.other.Add(1)
	}
	resp, err := c.next.RoundTrip(r)
	if err == nil {
		if resp.Header.Get("X-Kubernetes-PF-FlowSchema-UID") != "" {
			c.apf.Store(apfYes)
		} else if resp.StatusCode < 500 {
			c.apf.CompareAndSwap(apfUnknown, apfNo) // a server without APF: limit ourselves
		}
	}
	return resp, err
}

func (c *counter) stats() Stats {
	return Stats{Total: c.total.Load(), Lists: c.lists.Load(), DryRuns: c.dryRuns.Load(), Writes: c.writes.Load(), Other: c.other.Load()}
}

// isObjectList reports whether a GET path lists a collection of objects:
// /api/v1/configmaps, /api/v1/namespaces/x/configmaps, /apis/g/v/r,
// /apis/g/v/namespaces/x/r (not discovery documents or single objects).
func isObjectList(path string) bool {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	var rest []string
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		rest = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		rest = parts[3:]
	default:
		return false
	}
	if len(rest) >= 2 && rest[0] == "namespaces" {
		rest = rest[2:]
	}
	return len(rest) == 1
}
