package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gantryops/gantry/event"
	"github.com/gantryops/gantry/notify"
	"github.com/gantryops/gantry/state"
)

// receiver is a webhook receiver on loopback that checks each request's
// signature and keeps what it got, in order; it answers status (200 when
// zero) and, once, 429 with Retry-After when throttle is set.
type receiver struct {
	*httptest.Server
	secret []byte

	mu       sync.Mutex
	got      []notify.Payload
	ids      []string
	down     atomic.Bool
	throttle atomic.Int32 // 429s still to answer
	requests atomic.Int32
}

func newReceiver(t *testing.T, secret string) *receiver {
	r := &receiver{secret: []byte(secret)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.requests.Add(1)
		if r.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		if r.throttle.Load() > 0 {
			r.throttle.Add(-1)
			w.Header().Set("Retry-After", "2")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		body, _ := io.ReadAll(req.Body)
		if req.Header.Get(notify.HeaderSignature) != notify.Sign(r.secret, body) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var p notify.Payload
		if err := json.Unmarshal(body, &p); err != nil || p.DeliveryID != req.Header.Get(notify.HeaderDelivery) {
			http.Error(w, "bad payload", http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.got = append(r.got, p)
		r.ids = append(r.ids, p.DeliveryID)
		r.mu.Unlock()
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) kinds(stack string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, p := range r.got {
		if p.Event.Stack == stack {
			out = append(out, p.Event.Kind+" "+p.Summary)
		}
	}
	return out
}

func open(t *testing.T) *state.Store {
	t.Helper()
	s, err := state.Open(context.Background(), state.Options{DatabaseURL: srv.NewDatabase(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func audit(t *testing.T, s *state.Store, stack string, data event.Data) {
	t.Helper()
	if err := s.Audit(context.Background(), state.AuditEvent{Stack: stack, Actor: "alice", Data: data}); err != nil {
		t.Fatal(err)
	}
}

// TestDeliveredInOrderThroughFaults records events of two stacks (each
// event's outbox row written with it, by the record's trigger) and
// delivers them to a signed webhook on loopback: every event the route
// names arrives once, in order per stack, signed, with its delivery ID;
// a receiver answering 503 for a while, then 429 with Retry-After, holds
// each stack's later events back (in order) and loses nothing; two
// dispatchers on one record never send one delivery twice.
func TestDeliveredInOrderThroughFaults(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	r := newReceiver(t, "hook-secret")
	now := time.Now()
	clock := func() time.Time { return now }
	dispatcher := func() *notify.Dispatcher {
		return &notify.Dispatcher{Record: s, Now: clock,
			Providers: []notify.Provider{&notify.Webhook{ProviderName: "ops", URL: r.URL, Secret: []byte("hook-secret")}},
			Routes:    []notify.Route{{Stacks: []string{"shop", "web"}, Kinds: []string{"plan.pending", "apply.*"}, Providers: []string{"ops"}}},
			Retry:     notify.Retry{Base: time.Second, Max: 10 * time.Second, Attempts: 20}}
	}
	a, b := dispatcher(), dispatcher()
	a.Metrics, b.Metrics = notify.NewMetrics(prometheus.NewRegistry()), notify.NewMetrics(prometheus.NewRegistry())

	r.down.Store(true)
	audit(t, s, "shop", event.PlanPendingData{Reason: "destructive: deletes Namespace shop"})
	audit(t, s, "shop", event.PlanCreatedData{Digest: "sha256:x"}) // not routed
	audit(t, s, "web", event.ApplyStartedData{Changes: 2})
	audit(t, s, "shop", event.ApplyStartedData{Changes: 3})
	audit(t, s, "shop", event.ApplySucceededData{Objects: 3})
	audit(t, s, "web", event.ApplyFailedData{Error: "1 object(s) failed"})

	for range 3 { // the receiver down: each stack's first delivery retried, the rest wait
		if _, err := a.Once(ctx); err != nil {
			t.Fatal(err)
		}
		now = now.Add(15 * time.Second)
	}
	if got := r.requests.Load(); got != 6 { // 2 stacks x 3 rounds: the heads only
		t.Errorf("%d requests while down, want 6 (each stack's head, once a round)", got)
	}
	r.down.Store(false)
	r.throttle.Store(1)
	for range 12 {
		var wg sync.WaitGroup
		for _, d := range []*notify.Dispatcher{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := d.Once(ctx); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		now = now.Add(3 * time.Second)
	}
	want := map[string][]string{
		"shop": {"plan.pending shop: plan waits for approval by alice: destructive: deletes Namespace shop", "apply.started shop: apply started by alice", "apply.succeeded shop: apply succeeded by alice"},
		"web":  {"apply.started web: apply started by alice", "apply.failed web: apply failed by alice: 1 object(s) failed"},
	}
	for stack, w := range want {
		if got := r.kinds(stack); !equal(got, w) {
			t.Errorf("%s received %q, want %q", stack, got, w)
		}
	}
	seen := map[string]bool{}
	for _, id := range r.ids {
		if seen[id] {
			t.Errorf("delivery %s received twice", id)
		}
		seen[id] = true
	}
	queued, err := s.Deliveries(ctx, state.DeliveryQueued, 100)
	if err != nil || len(queued) != 0 {
		t.Errorf("queued after delivery: %d, %v", len(queued), err)
	}
	// The attempts: a's 6 while down, a 429 (a's or b's), and the 5 sent
	// between them; queued at the last round: 0.
	sent := testutil.ToFloat64(a.Metrics.Counter("ops", "sent")) + testutil.ToFloat64(b.Metrics.Counter("ops", "sent"))
	retried := testutil.ToFloat64(a.Metrics.Counter("ops", "retried")) + testutil.ToFloat64(b.Metrics.Counter("ops", "retried"))
	if retried != 7 || sent != 5 || testutil.ToFloat64(a.Metrics.Queued("ops")) != 0 {
		t.Errorf("metrics: %v sent, %v retried, %v queued; want 5, 7 (6 while down, one 429), 0", sent, retried, testutil.ToFloat64(a.Metrics.Queued("ops")))
	}
}

// TestDeadLetterAndRetry: a delivery that fails every attempt is dead
// after the last, visible, and the stack's next delivery goes on; retried
// by hand, it is sent with the same delivery ID.
func TestDeadLetterAndRetry(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	r := newReceiver(t, "k")
	now := time.Now()
	d := &notify.Dispatcher{Record: s, Now: func() time.Time { return now },
		Providers: []notify.Provider{&notify.Webhook{ProviderName: "ops", URL: r.URL, Secret: []byte("k")}},
		Routes:    []notify.Route{{Providers: []string{"ops"}}},
		Retry:     notify.Retry{Base: time.Second, Max: time.Second, Attempts: 3}}
	r.down.Store(true)
	audit(t, s, "shop", event.ApplyFailedData{Error: "boom"})
	for range 4 {
		if _, err := d.Once(ctx); err != nil {
			t.Fatal(err)
		}
		now = now.Add(2 * time.Second)
	}
	dead, err := s.Deliveries(ctx, state.DeliveryDead, 10)
	if err != nil || len(dead) != 1 || dead[0].Attempts != 3 || dead[0].LastError == "" {
		t.Fatalf("dead letters: %+v, %v; want the one delivery, 3 attempts, its error", dead, err)
	}
	r.down.Store(false)
	audit(t, s, "shop", event.ApplySucceededData{Objects: 1})
	if _, err := d.Once(ctx); err != nil {
		t.Fatal(err)
	}
	if got := r.kinds("shop"); len(got) != 1 || got[0][:15] != "apply.succeeded" {
		t.Fatalf("after the dead letter the stack's next delivery went: %q", got)
	}
	if err := s.RetryDelivery(ctx, dead[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Once(ctx); err != nil {
		t.Fatal(err)
	}
	if got := r.ids; len(got) != 2 || got[1] != dead[0].ID {
		t.Errorf("retried by hand: received %v, want the dead letter's ID %s last", got, dead[0].ID)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestChatProviders delivers an event to a Slack and a Teams incoming
// webhook on loopback that check the body as each documents it (Slack:
// JSON with text and blocks, answered "ok"; Teams: a message with an
// Adaptive Card attachment, answered 202), and a Slack receiver refusing
// a payload (400 invalid_payload) is retried, then sent.
func TestChatProviders(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	var slackGot, teamsGot atomic.Int32
	var refuse atomic.Bool
	refuse.Store(true)
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p struct {
			Text   string           `json:"text"`
			Blocks []map[string]any `json:"blocks"`
		}
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil || r.Header.Get("Content-Type") != "application/json" || (p.Text == "" && len(p.Blocks) == 0) || refuse.Swap(false) {
			http.Error(w, "invalid_payload", http.StatusBadRequest)
			return
		}
		slackGot.Add(1)
		io.WriteString(w, "ok")
	}))
	defer slack.Close()
	teams := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p struct {
			Type        string `json:"type"`
			Attachments []struct {
				ContentType string         `json:"contentType"`
				Content     map[string]any `json:"content"`
			} `json:"attachments"`
		}
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil || p.Type != "message" || len(p.Attachments) != 1 ||
			p.Attachments[0].ContentType != "application/vnd.microsoft.card.adaptive" || p.Attachments[0].Content["type"] != "AdaptiveCard" {
			http.Error(w, "bad card", http.StatusBadRequest)
			return
		}
		teamsGot.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer teams.Close()
	now := time.Now()
	d := &notify.Dispatcher{Record: s, Now: func() time.Time { return now },
		Providers: []notify.Provider{&notify.Chat{ProviderName: "chat", Kind: "slack", URL: slack.URL}, &notify.Chat{ProviderName: "ms", Kind: "teams", URL: teams.URL}},
		Routes:    []notify.Route{{Providers: []string{"chat", "ms"}}},
		Retry:     notify.Retry{Base: time.Second, Max: time.Second, Attempts: 5}}
	audit(t, s, "shop", event.PlanPendingData{Reason: "destructive: deletes Namespace shop"})
	for range 3 {
		if _, err := d.Once(ctx); err != nil {
			t.Fatal(err)
		}
		now = now.Add(2 * time.Second)
	}
	if slackGot.Load() != 1 || teamsGot.Load() != 1 {
		t.Errorf("Slack got %d, Teams %d; want 1 each (Slack's first refused, then retried)", slackGot.Load(), teamsGot.Load())
	}
}

// TestReceiverDownForAMinute runs a dispatcher on the real clock against
// a receiver that is down for a minute: nothing is lost, and once it is
// back every event arrives, in order per stack, each once.
func TestReceiverDownForAMinute(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := open(t)
	r := newReceiver(t, "k")
	r.down.Store(true)
	d := &notify.Dispatcher{Record: s, Poll: 200 * time.Millisecond,
		Providers: []notify.Provider{&notify.Webhook{ProviderName: "ops", URL: r.URL, Secret: []byte("k")}},
		Routes:    []notify.Route{{Providers: []string{"ops"}}},
		Retry:     notify.Retry{Base: time.Second, Max: 5 * time.Second, Attempts: 100}}
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	want := map[string][]string{}
	for i := range 3 {
		for _, stack := range []string{"shop", "web"} {
			audit(t, s, stack, event.ApplyStartedData{Changes: i + 1})
			want[stack] = append(want[stack], fmt.Sprintf("apply.started %s: apply started by alice", stack))
		}
	}
	time.Sleep(time.Minute)
	if n := len(r.kinds("shop")) + len(r.kinds("web")); n != 0 || r.requests.Load() < 10 {
		t.Fatalf("while down: %d received, %d requests (want 0 received, retries made)", n, r.requests.Load())
	}
	r.down.Store(false)
	deadline := time.Now().Add(20 * time.Second)
	for len(r.kinds("shop"))+len(r.kinds("web")) < 6 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	<-done
	for stack, w := range want {
		if got := r.kinds(stack); !equal(got, w) {
			t.Errorf("%s received %q, want %q", stack, got, w)
		}
	}
	var changes []float64
	r.mu.Lock()
	for _, p := range r.got {
		if p.Event.Stack == "shop" {
			changes = append(changes, p.Event.Data["changes"].(float64))
		}
	}
	r.mu.Unlock()
	if fmt.Sprint(changes) != "[1 2 3]" {
		t.Errorf("shop's events arrived as %v, want in order [1 2 3]", changes)
	}
}
