package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gantryops/gantry/notify"
)

const demoHookKey = "demo-hook-key"

// receiver is the demo's webhook receiver on loopback: it checks each
// delivery's signature and prints the events gantry run announces.
type receiver struct {
	url  string
	srv  *http.Server
	mu   sync.Mutex
	got  []string
	seen map[string]bool
}

func startReceiver() (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &receiver{url: "http://" + ln.Addr().String() + "/gantry", seen: map[string]bool{}}
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil || req.Header.Get(notify.HeaderSignature) != notify.Sign([]byte(demoHookKey), body) {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var p notify.Payload
	if err := json.Unmarshal(body, &p); err != nil {
		http.Error(w, "bad payload", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen[p.DeliveryID] { // a retry of one already had: deduplicated by its delivery ID
		return
	}
	r.seen[p.DeliveryID] = true
	r.got = append(r.got, p.Event.Kind)
	fmt.Printf("  [webhook receiver] %s, signature verified, delivery %s: %s\n", p.Event.Kind, p.DeliveryID[:8], p.Summary)
}

// waitFor waits until the receiver has kinds, in order, at the end of
// what it got.
func (r *receiver) waitFor(kinds ...string) error {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		got := strings.Join(r.got, ",")
		r.mu.Unlock()
		if strings.HasSuffix(got, strings.Join(kinds, ",")) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("the webhook receiver got %v, not %v: see gantry run's log", r.got, kinds)
}

func (r *receiver) close() error { return r.srv.Close() }

// addNotifications appends to the demo's gantry.yaml a webhook provider
// (its URL and key from the environment) and a route of the shop stack's
// pending plans and applies to it.
func addNotifications(config string) error {
	f, err := os.OpenFile(config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(`
notifications:
  providers:
    - {name: demo-hook, type: webhook, url: {env: DEMO_HOOK_URL}, secret: {env: DEMO_HOOK_KEY}}
  routes:
    - {stacks: [shop], kinds: [plan.pending, apply.succeeded, apply.failed], providers: [demo-hook]}
`)
	return errors.Join(err, f.Close())
}
