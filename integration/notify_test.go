package integration

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gantryops/gantry/internal/gittest"
	"github.com/gantryops/gantry/notify"
	"github.com/gantryops/gantry/state"
)

// TestRunNotifiesWebhook: gantry run, with a webhook provider and a route
// in gantry.yaml (its URL and HMAC key from the environment), announces
// what its rounds record to a receiver on loopback that verifies each
// signature: the plan waiting for approval, then, approved, the apply
// started and succeeded, in order; events the route does not name are not
// sent. The key is in no output, and the value of the stack's Secret in
// no payload of any provider (the canary).
func TestRunNotifiesWebhook(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	var mu sync.Mutex
	var got []notify.Payload
	var bodies []string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get(notify.HeaderSignature) != notify.Sign([]byte("hmac-canary-key"), body) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var p notify.Payload
		if err := json.Unmarshal(body, &p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		got, bodies = append(got, p), append(bodies, string(body))
		mu.Unlock()
	}))
	defer recv.Close()
	kinds := func() string {
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for _, p := range got {
			out = append(out, p.Event.Kind)
		}
		return strings.Join(out, ",")
	}

	repo := gittest.NewRepo(t)
	repo.Commit("v1", map[string]string{"deploy/cms.yaml": configMapDoc("a", "1"),
		"deploy/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: notify-canary-4711}\n"})
	dsn := env.DB.NewDatabase(t)
	c := newCLI(t, dsn)
	c.env = append(c.env, "OPS_HOOK_URL="+recv.URL, "OPS_HOOK_KEY=hmac-canary-key",
		"GANTRY_SECRET_KEY="+base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef")))
	c.write("gantry.yaml", fmt.Sprintf(`apiVersion: gantry.dev/v1alpha1
kind: Config
stacks:
- name: announced
  source: {repo: %s, ref: main, path: deploy}
  target: {namespace: %s}
  approval: manual
notifications:
  publicURL: https://gantry.example.com
  providers:
  - {name: ops, type: webhook, url: {env: OPS_HOOK_URL}, secret: {env: OPS_HOOK_KEY}}
  routes:
  - {stacks: [announced], kinds: [plan.pending, "apply.*"], providers: [ops]}
`, repo.Dir, ns))

	out, errOut, code := c.run("run", "--once")
	if code != 0 || kinds() != "plan.pending" {
		t.Fatalf("run --once: exit %d, received %q\n%s\n%s", code, kinds(), out, errOut)
	}
	p := got[0]
	if p.Event.Stack != "announced" || p.Event.PlanID == "" || p.Link != "https://gantry.example.com/plans/"+p.Event.PlanID || !strings.HasPrefix(p.Summary, "announced: plan waits for approval") {
		t.Errorf("the pending plan's payload: %+v", p)
	}
	if p.Plan == nil || len(p.Plan.Commit) != 40 || p.Plan.Repo != "file://"+repo.Dir || p.Plan.Add != 2 || !strings.Contains(p.Summary, p.Plan.Commit[:12]+", +2 ~0 -0") {
		t.Errorf("the pending plan's payload names no commit or changes: %+v, %q", p.Plan, p.Summary)
	}
	c.mustRun("", "approve", p.Event.PlanID)
	out, errOut, code = c.run("run", "--once")
	if code != 0 || kinds() != "plan.pending,apply.started,apply.succeeded" {
		t.Fatalf("run --once after the approval: exit %d, received %q\n%s\n%s", code, kinds(), out, errOut)
	}
	if strings.Contains(out+errOut, "hmac-canary-key") {
		t.Error("the webhook's key is in gantry's output")
	}
	// The Secret canary: in no body the webhook got, nor in what Slack,
	// Teams or a commit status would get for the same deliveries.
	s, err := state.Open(context.Background(), state.Options{DatabaseURL: dsn, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ds, err := s.Deliveries(context.Background(), "", 100)
	if err != nil || len(ds) != 3 {
		t.Fatalf("deliveries: %d, %v", len(ds), err)
	}
	for _, d := range ds {
		for _, build := range []func(state.Delivery) ([]byte, error){
			(&notify.Chat{Kind: "slack"}).Body, (&notify.Chat{Kind: "teams"}).Body,
			func(d state.Delivery) ([]byte, error) {
				_, b := (&notify.Status{Kind: "github", Host: "github.com"}).StatusRequest(d)
				return b, nil
			},
		} {
			b, err := build(d)
			if err != nil {
				t.Fatal(err)
			}
			bodies = append(bodies, string(b))
		}
	}
	for _, b := range bodies {
		if strings.Contains(b, "notify-canary-4711") {
			t.Fatalf("a notification holds the Secret's value: %s", b)
		}
	}
	list := c.mustRun("", "notifications", "--status", "sent")
	if strings.Count(list, "  sent  ") != 3 || !strings.Contains(list, "apply.succeeded") || !strings.Contains(list, "ops") {
		t.Errorf("gantry notifications --status sent:\n%s", list)
	}
	if _, errOut, code := c.run("notifications", "retry", "6f1c"); code == 0 || !strings.Contains(errOut, "is not a delivery ID") {
		t.Errorf("retry of a partial ID: exit %d, %s", code, errOut)
	}
}
