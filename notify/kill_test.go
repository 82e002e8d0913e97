package notify_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gantryops/gantry/event"
	"github.com/gantryops/gantry/notify"
	"github.com/gantryops/gantry/state"
)

// notifyChild is a dispatcher in a process of its own (the test binary
// re-executed), for TestKilledMidDelivery to kill.
func notifyChild(dsn, url string) int {
	ctx := context.Background()
	s, err := state.Open(ctx, state.Options{DatabaseURL: dsn})
	if err != nil {
		return 1
	}
	d := &notify.Dispatcher{Record: s, Providers: []notify.Provider{&notify.Webhook{ProviderName: "ops", URL: url, Secret: []byte("k")}},
		Routes: []notify.Route{{Providers: []string{"ops"}}}, Timeout: time.Minute}
	if _, err := d.Once(ctx); err != nil {
		return 1
	}
	return 0
}

// TestKilledMidDelivery kills a dispatcher's process while the receiver
// holds its request: nothing is lost (the delivery stayed queued: its
// attempt's transaction died with the process), and the next dispatcher
// sends it again with the same delivery ID, then the stack's next event.
func TestKilledMidDelivery(t *testing.T) {
	ctx := context.Background()
	dsn := srv.NewDatabase(t)
	s, err := state.Open(ctx, state.Options{DatabaseURL: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var mu sync.Mutex
	var ids, kinds []string
	arrived := make(chan struct{}, 1)
	hold := true
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var p notify.Payload
		_ = json.Unmarshal(body, &p)
		mu.Lock()
		ids, kinds = append(ids, p.DeliveryID), append(kinds, p.Event.Kind)
		holding := hold
		mu.Unlock()
		if holding {
			arrived <- struct{}{}
			<-r.Context().Done() // held until the sender is gone
			return
		}
	}))
	defer recv.Close()
	audit(t, s, "shop", event.ApplyStartedData{Changes: 1})
	audit(t, s, "shop", event.ApplySucceededData{Objects: 1})

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), "GANTRY_TEST_NOTIFY_DSN="+dsn, "GANTRY_TEST_NOTIFY_URL="+recv.URL)
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-arrived:
	case <-time.After(30 * time.Second):
		_ = child.Process.Kill()
		t.Fatal("the child dispatcher sent nothing")
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	mu.Lock()
	hold = false
	mu.Unlock()

	d := &notify.Dispatcher{Record: s, Providers: []notify.Provider{&notify.Webhook{ProviderName: "ops", URL: recv.URL, Secret: []byte("k")}},
		Routes: []notify.Route{{Providers: []string{"ops"}}}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := d.Once(ctx); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		n := len(ids)
		mu.Unlock()
		if n >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond) // the dead child's session is still ending: its lock with it
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ids) != 3 || ids[0] != ids[1] || ids[2] == ids[0] || kinds[0] != "apply.started" || kinds[2] != "apply.succeeded" {
		t.Fatalf("received %v (%v); want the first delivery twice with one ID (killed mid-attempt, then sent again), then the next", ids, kinds)
	}
	queued, err := s.Deliveries(ctx, state.DeliveryQueued, 10)
	if err != nil || len(queued) != 0 {
		t.Errorf("queued: %d, %v", len(queued), err)
	}
}

// TestPostgresRestarted stops Postgres with deliveries queued and the
// receiver down: the dispatcher's rounds fail meanwhile (and say so), and
// once Postgres and the receiver are back every event is delivered, in
// order, each once.
func TestPostgresRestarted(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	r := newReceiver(t, "k")
	d := &notify.Dispatcher{Record: s, Providers: []notify.Provider{&notify.Webhook{ProviderName: "ops", URL: r.URL, Secret: []byte("k")}},
		Routes: []notify.Route{{Providers: []string{"ops"}}}, Retry: notify.Retry{Base: 10 * time.Millisecond, Max: 50 * time.Millisecond, Attempts: 100}}
	r.down.Store(true)
	audit(t, s, "shop", event.ApplyStartedData{Changes: 1})
	audit(t, s, "shop", event.ApplySucceededData{Objects: 1})
	if _, err := d.Once(ctx); err != nil {
		t.Fatal(err)
	}
	if err := srv.Server.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Once(ctx); err == nil {
		t.Error("a round with Postgres stopped reported no error")
	}
	if _, err := srv.Server.Start(ctx); err != nil {
		t.Fatalf("restart Postgres: %v", err)
	}
	r.down.Store(false)
	deadline := time.Now().Add(30 * time.Second)
	for len(r.kinds("shop")) < 2 && time.Now().Before(deadline) {
		_, _ = d.Once(ctx) // the pool's first request after the restart may meet a dead connection
		time.Sleep(60 * time.Millisecond)
	}
	if got := r.kinds("shop"); len(got) != 2 || got[0][:13] != "apply.started" || got[1][:15] != "apply.succeeded" {
		t.Fatalf("after the restart the receiver got %q", got)
	}
}
