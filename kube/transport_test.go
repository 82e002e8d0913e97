package kube

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestIsObjectList(t *testing.T) {
	t.Parallel()
	for path, want := range map[string]bool{
		"/api/v1/configmaps":                     true,
		"/api/v1/namespaces/x/configmaps":        true,
		"/api/v1/namespaces":                     true,
		"/apis/apps/v1/deployments":              true,
		"/apis/apps/v1/namespaces/x/deployments": true,
		"/api/v1/namespaces/x":                   false,
		"/api/v1/namespaces/x/configmaps/y":      false,
		"/apis/apps/v1":                          false,
		"/apis":                                  false,
		"/version":                               false,
		"/openapi/v3/apis/apps/v1":               false,
	} {
		if got := isObjectList(path); got != want {
			t.Errorf("isObjectList(%q) = %v, want %v", path, got, want)
		}
	}
}

// TestAdaptiveLimiter: no client-side limit while responses carry API
// Priority and Fairness headers; a token bucket once one does not.
func TestAdaptiveLimiter(t *testing.T) {
	t.Parallel()
	apf := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if apf {
			w.Header().Set("X-Kubernetes-PF-FlowSchema-UID", "uid")
		}
	}))
	defer srv.Close()
	ctr := &counter{next: http.DefaultTransport}
	lim := newAdaptiveLimiter(ctr, 1, 1)
	get := func() {
		resp, err := (&http.Client{Transport: ctr}).Get(srv.URL + "/api/v1/configmaps")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	get()
	start := time.Now()
	for range 20 {
		if err := lim.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if took := time.Since(start); took > 100*time.Millisecond || lim.QPS() != -1 {
		t.Errorf("with APF: 20 waits took %s at QPS %v, want no limit", took, lim.QPS())
	}

	apf = false
	ctr.apf.Store(apfUnknown)
	get()
	if lim.QPS() != 1 {
		t.Fatalf("without APF: QPS %v, want the 1 QPS bucket", lim.QPS())
	}
	lim.Accept() // takes the burst of 1
	start = time.Now()
	if err := lim.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 500*time.Millisecond {
		t.Errorf("without APF the limiter did not wait (%s)", took)
	}
	if s := ctr.stats(); s.Lists != 2 || s.Total != 2 {
		t.Errorf("stats %+v, want 2 LISTs", s)
	}
}
