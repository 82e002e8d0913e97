package apply

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
)

// TestExecuteScrubsRecoveredPanics: a panic carrying out a Secret (here
// raised by the event hook, before any request) whose value quotes the
// Secret's content fails that object with an error from which every form
// of the value is scrubbed: in its outcome, the events and the apply's
// error. Before, the recovered panic was recorded as it was.
func TestExecuteScrubsRecoveredPanics(t *testing.T) {
	t.Parallel()
	const pin = "pin-918273"
	secret := manifest(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: door, namespace: shop}\nstringData: {pin: \""+pin+"\"}\n")
	ref := object.RefOf(secret)
	p := &plan.Plan{Stack: "shop", Desired: []*unstructured.Unstructured{secret},
		Changes: []plan.Change{{Ref: ref, APIVersion: "v1", Action: plan.ActionCreate}}}
	var mu sync.Mutex
	var seen []string
	a := New(nil, Options{
		OnEvent: func(e Event) {
			if e.Kind == EventStarted {
				panic(fmt.Sprintf("cannot carry out %v", secret.Object))
			}
			if e.Err != nil {
				mu.Lock()
				seen = append(seen, "event: "+e.Err.Error())
				mu.Unlock()
			}
		},
		OnOutcome: func(o Outcome) {
			mu.Lock()
			seen = append(seen, fmt.Sprintf("outcome: %v", o.Err))
			mu.Unlock()
		},
	})
	r, err := a.Execute(context.Background(), p)
	if err == nil || len(r.Outcomes) != 1 || r.Outcomes[0].Result != ResultFailed {
		t.Fatalf("Execute = %+v, %v; want the Secret failed", r, err)
	}
	seen = append(seen, "apply: "+err.Error(), fmt.Sprintf("report: %v", r.Outcomes[0].Err))
	if !strings.Contains(strings.Join(seen, "\n"), "gantry panicked") {
		t.Errorf("the panic is not reported:\n%s", strings.Join(seen, "\n"))
	}
	for _, text := range seen {
		if strings.Contains(text, pin) {
			t.Errorf("the Secret's value is in %q", text)
		}
	}
}
