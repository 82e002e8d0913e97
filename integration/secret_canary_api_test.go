package integration

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantryops/gantry/integration/harness"
	"github.com/gantryops/gantry/internal/syncbuf"
)

// TestSecretCanarySweepServer extends the canary sweep to what gantry run
// answers over HTTP, and to the failures: one gantry run reconciles four
// stacks whose Secrets carry canaries — one applied, one waiting at the
// gate (manual approval), one whose apply is refused because another field
// manager owns the Secret's data (the live Secret holds a canary of its
// own), and one the API server refuses (a TLS Secret without its key) —
// and every answer of /api/v1/stacks (with both failures' errors),
// /api/v1/plans, /api/v1/plans/{id} for every recorded plan, /metrics,
// /readyz, the audit log of each stack (gantry history --audit -o json),
// gantry plans -o json, gantry run's own log at trace level and a pg_dump
// of the database is searched for each canary and its base64, in every
// form leakForms knows: no hit.
func TestSecretCanarySweepServer(t *testing.T) {
	t.Parallel()
	const (
		applied       = "canary-api-applied-3f91c2"
		appliedNote   = "canary-api-note-a07d55"
		pended        = "canary-api-pended-51be08"
		conflicted    = "canary-api-conflict-desired-c4e2a1"
		conflictLive  = "canary-api-conflict-live-9d30f7"
		refused       = "canary-api-refused-e6184b"
		apiToken      = "sweep-api-token"
		listenTimeout = 60 * time.Second
	)
	canaries := []string{applied, appliedNote, pended, conflicted, conflictLive, refused}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	ns := env.Namespace(t)
	lastApplied := fmt.Sprintf(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"ok"},"data":{"token":"%s"}}`, b64(applied))
	repo := harness.NewServedRepo(t, map[string]string{
		"deploy/ok/secret.yaml": fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: ok\n  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: %q\n    example.com/note: %q\ndata: {token: %s}\nstringData: {note: %s}\n",
			lastApplied, "the note is "+appliedNote, b64(applied), appliedNote),
		"deploy/gate/secret.yaml":     fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata: {name: gate}\nstringData: {password: %s}\n", pended),
		"deploy/conflict/secret.yaml": fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata: {name: conflict}\ndata: {token: %s}\n", b64(conflicted)),
		"deploy/refused/secret.yaml":  fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata: {name: refused}\ntype: kubernetes.io/tls\ndata: {tls.crt: %s}\n", b64(refused)),
	})
	// Another field manager owns the data gantry's conflict stack sets.
	if _, err := env.Clientset(t).CoreV1().Secrets(ns).Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "conflict", Namespace: ns}, Data: map[string][]byte{"token": []byte(conflictLive)},
	}, metav1.CreateOptions{FieldManager: "other-tool"}); err != nil {
		t.Fatal(err)
	}
	dsn := env.DB.NewDatabase(t)
	c := newCLI(t, dsn)
	c.env = append(c.env, "GANTRY_SECRET_KEY="+base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef")), "GANTRY_API_TOKEN="+apiToken)
	var config strings.Builder
	config.WriteString("apiVersion: gantry.dev/v1alpha1\nkind: Config\nstacks:\n")
	for _, st := range []struct{ name, approval string }{{"ok", "auto"}, {"gate", "manual"}, {"conflict", "auto"}, {"refused", "auto"}} {
		fmt.Fprintf(&config, "- name: sweep-%s\n  source: {repo: %s, ref: main, path: deploy/%s}\n  target: {namespace: %s}\n  approval: %s\n", st.name, repo.URL, st.name, ns, st.approval)
	}
	c.write("gantry.yaml", config.String())

	var seen strings.Builder
	cmd := exec.Command(c.bin, "run", "--listen", "127.0.0.1:0", "--log-level", "trace", "--wait=false")
	cmd.Dir, cmd.Env = c.dir, c.env
	var stderr syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	var base string
	harness.Eventually(t, listenTimeout, "gantry run serves", func(context.Context) error {
		m := regexp.MustCompile(`serving on (http://[0-9.:]+)`).FindStringSubmatch(stderr.String())
		if m == nil {
			return fmt.Errorf("gantry run says:\n%s", stderr.String())
		}
		base = m[1]
		return nil
	})
	get := func(path string) string {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+apiToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		seen.WriteString(path + " " + resp.Status + "\n" + string(body) + "\n")
		return string(body)
	}

	// Every stack reconciled: two failed, saying so, one waits, one applied.
	var stacks struct {
		Stacks []struct {
			Stack, Outcome, Error string
			PlanID                string `json:"plan_id"`
		}
	}
	harness.Eventually(t, 2*time.Minute, "every stack reconciled", func(context.Context) error {
		body := get("/api/v1/stacks")
		if err := json.Unmarshal([]byte(body), &stacks); err != nil {
			return err
		}
		got := map[string]string{}
		for _, s := range stacks.Stacks {
			got[s.Stack] = s.Outcome + "|" + s.Error
		}
		if !strings.HasPrefix(got["sweep-ok"], "applied|") || !strings.HasPrefix(got["sweep-gate"], "pending|") ||
			!strings.Contains(got["sweep-conflict"], "Secret/"+ns+"/conflict") || !strings.Contains(got["sweep-refused"], "Secret/"+ns+"/refused") {
			return fmt.Errorf("stacks: %v", got)
		}
		return nil
	})
	plans := get("/api/v1/plans")
	if !strings.Contains(plans, `"status": "pending"`) && !strings.Contains(plans, `"status":"pending"`) {
		t.Errorf("/api/v1/plans lists no pending plan:\n%s", plans)
	}
	get("/api/v1/plans?status=pending")
	rows := dbValue[[]string](t, dsn, `SELECT coalesce(array_agg(id::text), '{}') FROM plans`)
	if len(rows) < 2 {
		t.Errorf("%d plans recorded, want the applied and the pending one at least", len(rows))
	}
	for _, id := range rows {
		if body := get("/api/v1/plans/" + id); !strings.Contains(body, `"changes"`) {
			t.Errorf("GET /api/v1/plans/%s:\n%s", id, body)
		}
	}
	if metrics := get("/metrics"); !strings.Contains(metrics, `gantry_reconciles_total{phase=`) {
		t.Errorf("/metrics has no reconcile counts:\n%.2000s", metrics)
	}
	get("/readyz")

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatal("gantry run did not stop within 30s of SIGTERM")
	}
	seen.WriteString(stderr.String())
	for _, name := range []string{"ok", "gate", "conflict", "refused"} {
		out, errOut, code := c.run("history", "sweep-"+name, "--audit", "-o", "json", "--limit", "0")
		if code != 0 && (name != "refused" || !strings.Contains(errOut, "never been planned")) { // its plan failed: nothing recorded
			t.Errorf("history sweep-%s --audit: exit %d\n%s", name, code, errOut)
		}
		seen.WriteString(out + errOut)
	}
	out, _, _ := c.run("plans", "-o", "json")
	seen.WriteString(out)
	dump, err := exec.Command("pg_dump", "--data-only", "--inserts", "-d", dsn).CombinedOutput()
	if err != nil || !strings.Contains(string(dump), "INSERT INTO public.audit_events") {
		t.Fatalf("pg_dump: %v\n%.500s", err, dump)
	}
	seen.Write(dump)
	if !strings.Contains(seen.String(), "field manager") && !strings.Contains(seen.String(), "other-tool") {
		t.Errorf("the conflict is nowhere in what was searched: is the sweep looking at the failure?")
	}

	for _, canary := range canaries {
		for _, value := range []string{canary, b64(canary)} {
			for name, form := range leakForms(value) {
				if i := strings.Index(seen.String(), form); i >= 0 {
					text := seen.String()
					t.Errorf("gantry run's answers hold %q (%s of %q): …%q…", form, name, value, text[max(0, i-200):min(len(text), i+100)])
				}
			}
		}
	}
	if seen.Len() < 20000 {
		t.Errorf("only %d bytes of answers, logs and dump were searched: the sweep saw too little", seen.Len())
	}
}
