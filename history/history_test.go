package history_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/event"
	"github.com/gantryops/gantry/history"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan/ssa"
	"github.com/gantryops/gantry/state"
)

func configMap(name, value string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name, "namespace": "shop"},
		"data":     map[string]any{"value": value},
	}}
}

// sealedSecret is a Secret as the store keeps it: values sealed.
func sealedSecret(name, sealed string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": name, "namespace": "shop"},
		"data":     map[string]any{"password": sealed},
	}}
}

func TestCompare(t *testing.T) {
	from := &state.Revision{ID: "a", Stack: "shop", Number: 3, Commit: strings.Repeat("a", 40), Objects: []*unstructured.Unstructured{
		configMap("kept", "1"), configMap("changed", "old"), configMap("removed", "x"), sealedSecret("db", "gantry:hmac:1111"), sealedSecret("same", "gantry:hmac:2222"),
	}}
	to := &state.Revision{ID: "b", Stack: "shop", Number: 7, Commit: strings.Repeat("b", 40), Objects: []*unstructured.Unstructured{
		configMap("kept", "1"), configMap("changed", "new"), configMap("added", "y"), sealedSecret("db", "gantry:hmac:3333"), sealedSecret("same", "gantry:hmac:2222"),
	}}
	d := history.Compare(from, to)
	refs := func(objs []history.ObjectDiff) []string {
		var out []string
		for _, o := range objs {
			out = append(out, o.Ref.String())
		}
		return out
	}
	cm := func(name string) string { return object.Ref{Kind: "ConfigMap", Namespace: "shop", Name: name}.String() }
	secret := object.Ref{Kind: "Secret", Namespace: "shop", Name: "db"}.String()
	if diff := cmp.Diff([]string{cm("added")}, refs(d.Added)); diff != "" {
		t.Errorf("added (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff([]string{cm("removed")}, refs(d.Removed)); diff != "" {
		t.Errorf("removed (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff([]string{cm("changed"), secret}, refs(d.Changed)); diff != "" {
		t.Errorf("changed (-want +got)\n%s", diff)
	}
	if d.Unchanged != 2 {
		t.Errorf("unchanged = %d, want 2 (kept, same)", d.Unchanged)
	}
	want := []ssa.FieldDiff{{Path: "data.value", Before: "old", After: "new"}}
	if diff := cmp.Diff(want, d.Changed[0].Fields); diff != "" {
		t.Errorf("fields of the ConfigMap (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff([]ssa.FieldDiff{{Path: "data.password", Sensitive: true}}, d.Changed[1].Fields); diff != "" {
		t.Errorf("fields of the Secret (-want +got)\n%s", diff)
	}

	var text, js bytes.Buffer
	if err := history.WriteDiff(&text, d); err != nil {
		t.Fatal(err)
	}
	if err := history.WriteJSON(&js, d); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"text": text.String(), "json": js.String()} {
		for _, sealed := range []string{"1111", "3333", "2222"} {
			if strings.Contains(out, sealed) {
				t.Errorf("%s diff shows the sealed Secret value %s:\n%s", name, sealed, out)
			}
		}
	}
	for _, line := range []string{"revision 3 (commit aaaaaaaaaaaa) → revision 7 (commit bbbbbbbbbbbb)", "-   value: old", "+   value: new", "Diff: 1 added, 2 changed, 1 removed, 2 unchanged."} {
		if !strings.Contains(text.String(), line) {
			t.Errorf("text diff lacks %q:\n%s", line, text.String())
		}
	}
	if !history.Compare(to, to).Empty() {
		t.Error("a revision differs from itself")
	}
}

func TestHistoryTableAndJSON(t *testing.T) {
	at := func(s string) *time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return &v
	}
	restored := state.RevisionInfo{ID: "0b5e6f7a-0000-4000-8000-000000000009", Number: 9, Commit: strings.Repeat("c", 40), RestoredFrom: "x", RestoredFromNumber: 2}
	entries := []state.HistoryEntry{
		{Revision: restored, ApplyID: "ap-9", PlanID: "9a8b7c6d-1111", Actor: "alice", Status: state.ApplySucceeded, StartedAt: *at("2026-11-20T10:00:00Z"), FinishedAt: at("2026-11-20T10:00:07Z"), Added: 1, Destroyed: 2},
		{Revision: state.RevisionInfo{ID: "1c", Number: 8, Commit: strings.Repeat("d", 40)}, Actor: "ci", Status: state.ApplyFailed, Error: "boom", StartedAt: *at("2026-11-19T09:00:00Z"), FinishedAt: at("2026-11-19T09:00:01Z"), Changed: 3},
	}
	hold := &state.Hold{Revision: restored, Since: *at("2026-11-20T10:00:07Z"), AgainstCommit: strings.Repeat("d", 40), By: "alice"}
	l := history.NewLog("shop", entries, hold)
	var text bytes.Buffer
	if err := history.WriteTable(&text, l); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Stack shop is held at revision 9 since 2026-11-20 10:00:07 (restored by alice): Git commits up to dddddddddddd are not applied.",
		"`gantry resume shop`",
		"9    0b5e6f7a     cccccccccccc  2026-11-20 10:00:07  alice  9a8b7c6d  +1 ~0 -2  succeeded, held  2",
		"8    1c           dddddddddddd  2026-11-19 09:00:01  ci               +0 ~3 -0  failed",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("history table lacks %q:\n%s", want, text.String())
		}
	}
	var js bytes.Buffer
	if err := history.WriteJSON(&js, l); err != nil {
		t.Fatal(err)
	}
	var back history.Log
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Hold == nil || back.Hold.Revision != 9 || len(back.Applies) != 2 || !back.Applies[0].Held || back.Applies[0].RestoredFrom != 2 || back.Applies[1].Error != "boom" {
		t.Errorf("history JSON round trip: %s", js.String())
	}
}

func TestAuditTable(t *testing.T) {
	events := []state.AuditEvent{{ID: "e1", At: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC), Actor: "bob", Kind: event.LockBroken,
		PlanID: "12345678-aaaa", Details: map[string]any{"reason": "holder gone", "pid": 42}}}
	var text bytes.Buffer
	if err := history.WriteAuditTable(&text, history.NewAuditLog("shop", events)); err != nil {
		t.Fatal(err)
	}
	if want := `2026-11-20 10:00:00  lock.broken  bob    12345678         pid=42 reason="holder gone"`; !strings.Contains(text.String(), want) {
		t.Errorf("audit table lacks %q:\n%s", want, text.String())
	}
}
