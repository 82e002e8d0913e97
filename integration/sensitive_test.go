package integration

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/engine"
	"github.com/gantryops/gantry/history"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/plan/planfile"
	"github.com/gantryops/gantry/plan/render"
	"github.com/gantryops/gantry/sensitive"
	"github.com/gantryops/gantry/stack"
)

// TestDeclaredSensitiveCanary: a stack declares two fields of a ConfigMap
// sensitive (gantry.yaml's sensitive:). Through create, rotation and a
// restore from the record, their values appear in no rendering of a plan
// (text, JSON, Markdown, a planfile as shown), no revision as `gantry show`
// and `gantry diff` print it, no log line and no Postgres row, plain or
// base64; the ConfigMap's other fields show; the values applied are the
// planned ones, and the restore, which unseals them from the record, puts
// the first ones back exactly.
func TestDeclaredSensitiveCanary(t *testing.T) {
	t.Parallel()
	const canary, url, rotated = "canary-decl-3b9f41", "postgres://app:canary-url-77e1c2@db/app", "canary-decl-rotated-c0de55"
	b64 := base64.StdEncoding.EncodeToString
	leaks := []string{canary, rotated, "canary-url-77e1c2", b64([]byte(canary)), b64([]byte(rotated)), b64([]byte(url))}
	cm := func(password string) []*unstructured.Unstructured {
		return parseObjects(t, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: '{\"data\":{\"password\":\""+password+"\"}}'\n"+
			"data: {password: "+password+", db.url: '"+url+"', plain: shown-in-plans}\n",
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\ndata: {password: not-declared-here}\n")
	}
	ns := env.Namespace(t)
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	rules := []sensitive.Rule{{Kind: "ConfigMap", Name: "app", Fields: []string{"data.password", "data['db.url']"}}}
	s := env.NewStackWithKey(t, stack.Stack{Name: "declared", Target: stack.Target{Namespace: ns}, Prune: true, Sensitive: rules}, env.DB.NewDatabase(t), key)
	ctx := context.Background()

	var shown bytes.Buffer
	show := func(p *plan.Plan) {
		t.Helper()
		var file bytes.Buffer
		if err := planfile.Write(&file, p); err != nil {
			t.Fatal(err)
		}
		saved, err := s.Engine.ReadPlanfile(ctx, &file)
		if err != nil {
			t.Fatal(err)
		}
		for _, err := range []error{render.Text(&shown, p, render.TextOptions{}), render.JSON(&shown, p),
			render.Markdown(&shown, p, render.DefaultMarkdownOptions()), render.Text(&shown, saved, render.TextOptions{})} {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	livePassword := func() string {
		t.Helper()
		live, err := s.Dynamic.Resource(configmaps).Namespace(ns).Get(ctx, "app", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		v, _, _ := unstructured.NestedString(live.Object, "data", "password")
		return v
	}

	first := s.Plan(t, cm(canary), plan.DiffAuto)
	show(first)
	s.Apply(t, first)
	if livePassword() != canary {
		t.Fatal("the applied ConfigMap's password is not the planned one")
	}
	rotation := s.Plan(t, cm(rotated), plan.DiffServer)
	show(rotation)
	s.Apply(t, rotation)
	restore, err := s.Engine.Restore(ctx, engine.RestoreRequest{Stack: "declared", Cluster: s.Kube, To: "1"})
	if err != nil {
		t.Fatal(err)
	}
	show(restore.Plan)
	s.Apply(t, restore.Plan)
	if livePassword() != canary {
		t.Error("the restore from the record did not put the first password back exactly")
	}
	revs := map[string]*history.RevisionView{}
	for _, n := range []string{"1", "2"} {
		info, err := s.Store.ResolveRevision(ctx, "declared", n)
		if err != nil {
			t.Fatal(err)
		}
		rev, err := s.Store.SealedRevision(ctx, info.ID)
		if err != nil {
			t.Fatal(err)
		}
		revs[n] = history.NewRevisionView(rev)
		if err := revs[n].WriteYAML(&shown); err != nil {
			t.Fatal(err)
		}
	}

	for _, want := range []string{"plain: shown-in-plans", "password: " + sensitive.Changed, "db.url: " + sensitive.Value, "password: not-declared-here"} {
		if !strings.Contains(shown.String(), want) {
			t.Errorf("the renderings do not show %q", want)
		}
	}
	rows := dumpDatabase(t, s)
	for where, text := range map[string]string{"a rendering": shown.String(), "a log line": s.Logs.String(), "a Postgres row": rows} {
		for _, leak := range leaks {
			if strings.Contains(text, leak) {
				t.Errorf("%s contains the declared sensitive value %q", where, leak)
			}
		}
	}
	if !strings.Contains(rows, "not-declared-here") {
		t.Error("the undeclared ConfigMap's value is not stored as it is: the dump checks nothing")
	}
}
