package gate_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/event"
	"github.com/gantryops/gantry/gate"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/stack"
)

var now = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

const commit = "1111111111111111111111111111111111111111"

// policy loads one stack of gantry.yaml with the given approval and drift
// policies; shut adds a deny window open all the time.
func policy(t *testing.T, approval stack.Approval, drift stack.Drift, shut bool) stack.Stack {
	t.Helper()
	windows := ""
	if shut {
		windows = "\n    windows:\n      - {kind: deny, schedule: \"* * * * *\", duration: 1h}"
	}
	cfg, err := stack.Parse("gantry.yaml", fmt.Appendf(nil, `apiVersion: gantry.dev/v1alpha1
kind: Config
stacks:
  - name: web
    source: {repo: ./deploy}
    approval: %s
    drift: %s%s
`, approval, drift, windows))
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Stacks[0]
}

// planOf makes a plan of commit: one change (a drift correction when
// drift), destructive or not, held or not; no change at all when !changes.
func planOf(digest string, changes, destructive, drift bool, held string) *plan.Plan {
	p := &plan.Plan{ID: "plan-" + digest, Stack: "web", Digest: digest, Held: held, Source: plan.Source{Commit: commit}}
	if !changes {
		return p
	}
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "a", "namespace": "web"}}}
	p.Desired = []*unstructured.Unstructured{cm}
	p.Changes = []plan.Change{{Ref: object.RefOf(cm), APIVersion: "v1", Action: plan.ActionUpdate, Drift: drift}}
	if destructive {
		p.Destructive = []string{"deletes 30% of the inventory"}
	}
	return p
}

// The factors of a decision: every combination is decided, and checked
// against the first rule of the table below that matches it.
type factors struct {
	approval    stack.Approval
	destructive bool
	drift       stack.Drift
	driftOnly   bool
	shut        bool // a window holds applies
	held        bool
	changes     bool
	latest      string // none, pending, approved (for an older commit), rejected, moved (approved for this commit; the cluster moved since)
	same        bool   // the latest plan at the gate is exactly this plan (else it is stale: another digest)
}

// expect is what a rule decides. supersede: "" none, "keep" the open plan
// closed by this one, "all" the open plan closed with no plan kept.
type expect struct {
	outcome   gate.Outcome
	step      gate.Step
	approved  bool
	record    bool
	supersede string
	pend      bool
	event     event.Kind
	report    bool
	hide      bool
}

// rule matches the factors it names (nil: any value).
type rule struct {
	name string
	when func(f factors) bool
	want func(f factors) expect
}

func open(f factors) bool { return f.latest == "pending" || f.latest == "approved" }

func keepIfOpen(f factors) string {
	if open(f) {
		return "keep"
	}
	return ""
}

// rules is the gate's decision table, highest priority first.
var rules = []rule{
	{"held", func(f factors) bool { return f.held },
		func(factors) expect { return expect{outcome: gate.Held} }},
	{"no changes, a plan open", func(f factors) bool { return !f.changes && open(f) },
		func(factors) expect { return expect{outcome: gate.Unchanged, supersede: "all"} }},
	{"no changes", func(f factors) bool { return !f.changes },
		func(factors) expect { return expect{outcome: gate.Unchanged} }},
	{"rejected before", func(f factors) bool { return f.latest == "rejected" && f.same },
		func(factors) expect { return expect{outcome: gate.Rejected, hide: true} }},
	{"already pending", func(f factors) bool { return f.latest == "pending" && f.same },
		func(factors) expect { return expect{outcome: gate.Pending, hide: true} }},
	{"already approved, for its commit", func(f factors) bool { return f.latest == "approved" && f.same },
		func(factors) expect { return expect{outcome: gate.Deferred, hide: true} }},
	{"drift reported", func(f factors) bool { return f.driftOnly && f.drift == stack.DriftReport },
		func(f factors) expect {
			return expect{outcome: gate.DriftReported, record: true, supersede: keepIfOpen(f), event: event.DriftDetected, report: true}
		}},
	{"manual", func(f factors) bool { return f.approval == stack.ApprovalManual },
		func(factors) expect { return expect{outcome: gate.Pending, record: true, pend: true} }},
	{"destructive", func(f factors) bool { return f.approval == stack.ApprovalAutoUnlessDestructive && f.destructive },
		func(factors) expect { return expect{outcome: gate.Pending, record: true, pend: true} }},
	{"window shut", func(f factors) bool { return f.shut },
		func(f factors) expect {
			return expect{outcome: gate.Deferred, record: true, supersede: keepIfOpen(f), event: event.ApplyDeferred, report: true}
		}},
	{"apply", func(factors) bool { return true },
		func(f factors) expect {
			return expect{step: gate.ApplyPlan, approved: f.approval == stack.ApprovalAuto, record: true, supersede: keepIfOpen(f)}
		}},
}

// combinations lists every possible combination of the factors (a plan
// without changes is neither destructive nor drift; with no plan at the
// gate, the plan cannot be the same).
func combinations() []factors {
	var out []factors
	for _, approval := range []stack.Approval{stack.ApprovalAuto, stack.ApprovalManual, stack.ApprovalAutoUnlessDestructive} {
		for _, drift := range []stack.Drift{stack.DriftCorrect, stack.DriftReport} {
			for _, latest := range []string{"none", "pending", "approved", "rejected", "moved"} {
				for bits := 0; bits < 1<<6; bits++ {
					f := factors{approval: approval, drift: drift, latest: latest,
						destructive: bits&1 != 0, driftOnly: bits&2 != 0, shut: bits&4 != 0, held: bits&8 != 0, changes: bits&16 != 0, same: bits&32 != 0}
					if (!f.changes && (f.destructive || f.driftOnly)) || (latest == "none" && f.same) {
						continue
					}
					out = append(out, f)
				}
			}
		}
	}
	return out
}

// input builds the gate's input for f.
func input(t *testing.T, f factors, policies map[string]stack.Stack) gate.Input {
	key := fmt.Sprint(f.approval, f.drift, f.shut)
	s, ok := policies[key]
	if !ok {
		s = policy(t, f.approval, f.drift, f.shut)
		policies[key] = s
	}
	held := ""
	if f.held {
		held = "stack is held after a restore"
	}
	in := gate.Input{Stack: s, Commit: commit, Now: now, Plan: planOf("new", f.changes, f.destructive, f.driftOnly, held)}
	digest := "old"
	if f.same {
		digest = "new"
	}
	switch f.latest {
	case "pending":
		in.Latest = &gate.Latest{PlanID: "plan-" + digest, Status: gate.StatusPending, Digest: digest, Commit: commit, Reason: "approval: manual"}
	case "approved":
		in.Latest = &gate.Latest{PlanID: "plan-" + digest, Status: gate.StatusApproved, Digest: digest, Commit: "2222222222222222222222222222222222222222", DecidedBy: "alice"}
	case "rejected":
		in.Latest = &gate.Latest{PlanID: "plan-" + digest, Status: gate.StatusRejected, Digest: digest, Commit: commit, DecidedBy: "alice"}
	case "moved":
		in.Latest = &gate.Latest{PlanID: "plan-" + digest, Status: gate.StatusApproved, Digest: digest, Commit: commit, DecidedBy: "alice"}
		in.Moved = true
	}
	return in
}

// got reads a decision as the table states it.
func got(d gate.Decision) expect {
	e := expect{outcome: d.Outcome, step: d.Step, approved: d.Approved, record: d.Record, pend: d.Pend != "", report: d.Report, hide: d.HidePlan}
	if d.Supersede != nil {
		e.supersede = "all"
		if d.Supersede.Keep {
			e.supersede = "keep"
		}
	}
	if d.Event != nil {
		e.event = d.Event.Kind()
	}
	return e
}

// TestDecideEveryCombination decides every combination of approval policy,
// destructive or not, drift policy, a drift-only plan or not, window open
// or shut, stack held or not, changes or none, and the plan at the gate
// (none, pending, approved, rejected, approved but the cluster moved),
// the same as the new plan or stale; each against the first rule of the
// table that matches it. Every rule decides at least one combination.
func TestDecideEveryCombination(t *testing.T) {
	policies := map[string]stack.Stack{}
	used := map[string]int{}
	all := combinations()
	for _, f := range all {
		var r rule
		for _, r = range rules {
			if r.when(f) {
				break
			}
		}
		used[r.name]++
		d := gate.Decide(input(t, f, policies))
		if g, w := got(d), r.want(f); g != w {
			t.Errorf("%+v (rule %q):\n got %+v\nwant %+v (reason %q)", f, r.name, g, w, d.Reason)
		}
		if d.Step == gate.Stop && d.Reason == "" && d.Outcome != gate.Unchanged {
			t.Errorf("%+v: outcome %s without a reason", f, d.Outcome)
		}
	}
	for _, r := range rules {
		if used[r.name] == 0 {
			t.Errorf("rule %q decides no combination", r.name)
		}
	}
	if len(all) < 700 {
		t.Fatalf("only %d combinations", len(all))
	}
	t.Logf("%d combinations, by rule: %v", len(all), used)
}

// TestDecideRows: the cases beside the policy table, a row each.
func TestDecideRows(t *testing.T) {
	auto := policy(t, stack.ApprovalAuto, stack.DriftCorrect, false)
	report := policy(t, stack.ApprovalAuto, stack.DriftReport, false)
	shut := policy(t, stack.ApprovalAuto, stack.DriftCorrect, true)
	changed := func() *plan.Plan { return planOf("new", true, false, false, "") }
	rollback := changed()
	rollback.Rollback = "commit 1111111 is older than 2222222, the last applied"
	owned := changed()
	owned.Changes[0].Owner = "other-stack"
	drifted := planOf("new", true, false, true, "")
	approvedHere := &gate.Latest{PlanID: "plan-old", Status: gate.StatusApproved, Digest: "old", Commit: commit, DecidedBy: "alice"}
	cases := []struct {
		name       string
		in         gate.Input
		want       expect
		reason     string // a part of the reason
		refuse     bool
		repeat     bool
		forgetting bool
	}{
		{"before planning, nothing approved: plan", gate.Input{Stack: auto, Commit: commit}, expect{step: gate.MakePlan}, "", false, false, false},
		{"before planning, approved for another commit: plan", gate.Input{Stack: auto, Commit: commit,
			Latest: &gate.Latest{PlanID: "plan-old", Status: gate.StatusApproved, Commit: "2222222222222222222222222222222222222222"}}, expect{step: gate.MakePlan}, "", false, false, false},
		{"before planning, pending for this commit: plan", gate.Input{Stack: auto, Commit: commit,
			Latest: &gate.Latest{PlanID: "plan-old", Status: gate.StatusPending, Commit: commit}}, expect{step: gate.MakePlan}, "", false, false, false},
		{"before planning, approved for this commit: apply it", gate.Input{Stack: auto, Commit: commit, Latest: approvedHere, Now: now},
			expect{step: gate.ApplyApproved, approved: true}, "", false, false, false},
		{"before planning, approved for this commit, window shut: deferred", gate.Input{Stack: shut, Commit: commit, Latest: approvedHere, Now: now},
			expect{outcome: gate.Deferred}, "approved plan plan-old waits: deny window", false, false, false},
		{"rollback waits whatever the policy", gate.Input{Stack: auto, Commit: commit, Plan: rollback, Now: now},
			expect{outcome: gate.Pending, record: true, pend: true}, "rollback: commit 1111111", false, false, true},
		{"known to fail: refused and recorded", gate.Input{Stack: auto, Commit: commit, Plan: owned, Now: now},
			expect{outcome: gate.Refused, record: true, event: event.ApplyRefused}, "cannot be applied as it is", true, false, false},
		{"known to fail, a plan open: refused, the open plan superseded", gate.Input{Stack: auto, Commit: commit, Plan: owned, Now: now,
			Latest: &gate.Latest{PlanID: "plan-old", Status: gate.StatusPending, Digest: "old"}},
			expect{outcome: gate.Refused, record: true, supersede: "keep", event: event.ApplyRefused}, "cannot be applied as it is", true, false, false},
		{"refused before: refused again, nothing recorded", gate.Input{Stack: auto, Commit: commit, Plan: changed(), Now: now,
			LastRefused: gate.Seen{PlanID: "plan-new", Digest: "new"}},
			expect{outcome: gate.Refused, hide: true}, "plan plan-new doing exactly this was refused", false, true, false},
		{"another plan refused before: decided afresh", gate.Input{Stack: auto, Commit: commit, Plan: changed(), Now: now,
			LastRefused: gate.Seen{PlanID: "plan-old", Digest: "old"}},
			expect{step: gate.ApplyPlan, approved: true, record: true}, "", false, false, true},
		{"drift reported before: not recorded again", gate.Input{Stack: report, Commit: commit, Plan: drifted, Now: now, LastReported: "new"},
			expect{outcome: gate.DriftReported}, "1 object(s) changed out of band", false, false, false},
		{"deferred before: recorded, no second event", gate.Input{Stack: shut, Commit: commit, Plan: changed(), Now: now, LastReported: "new"},
			expect{outcome: gate.Deferred, record: true}, "deny window", false, false, true},
		{"rejected: names who", gate.Input{Stack: auto, Commit: commit, Plan: changed(), Now: now,
			Latest: &gate.Latest{PlanID: "plan-new", Status: gate.StatusRejected, Digest: "new", DecidedBy: "alice"}},
			expect{outcome: gate.Rejected, hide: true}, "rejected by alice", false, false, false},
		{"pending: says why it waits", gate.Input{Stack: auto, Commit: commit, Plan: changed(), Now: now,
			Latest: &gate.Latest{PlanID: "plan-new", Status: gate.StatusPending, Digest: "new", Reason: "destructive: deletes"}},
			expect{outcome: gate.Pending, hide: true}, "plan plan-new waits: destructive: deletes", false, false, false},
		{"no changes: names the commit", gate.Input{Stack: auto, Commit: commit, Plan: planOf("new", false, false, false, ""), Now: now,
			Latest: &gate.Latest{PlanID: "plan-old", Status: gate.StatusPending, Digest: "old"}},
			expect{outcome: gate.Unchanged, supersede: "all"}, "", false, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := gate.Decide(tc.in)
			if g := got(d); g != tc.want {
				t.Errorf("got %+v\nwant %+v", g, tc.want)
			}
			if !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("reason %q, want it to say %q", d.Reason, tc.reason)
			}
			if (len(d.Refuse) > 0) != tc.refuse || d.Repeat != tc.repeat || d.ForgetRefusal != tc.forgetting {
				t.Errorf("refuse %v, repeat %v, forget %v; want %v, %v, %v", d.Refuse, d.Repeat, d.ForgetRefusal, tc.refuse, tc.repeat, tc.forgetting)
			}
			if d.Supersede != nil && !strings.Contains(d.Supersede.Why, "plan-new") && !strings.Contains(d.Supersede.Why, object.ShortSHA(commit)) {
				t.Errorf("superseded because %q: it names neither the new plan nor the commit", d.Supersede.Why)
			}
		})
	}
}
