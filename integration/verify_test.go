package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantryops/gantry/engine"
	"github.com/gantryops/gantry/event"
	"github.com/gantryops/gantry/gate"
	"github.com/gantryops/gantry/integration/harness"
	"github.com/gantryops/gantry/stack"
)

// TestVerifiedCommits: a stack that requires SSH-signed commits applies a
// signed one; an unsigned commit, and one signed by a key it does not
// trust, are refused before they are rendered, on record, and the verified
// revision stays applied.
func TestVerifiedCommits(t *testing.T) {
	t.Parallel()
	keys := t.TempDir()
	for _, k := range []string{"trusted", "other"} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", k, "-f", filepath.Join(keys, k)).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
	}
	allowed := filepath.Join(keys, "allowed_signers")
	pub, err := os.ReadFile(filepath.Join(keys, "trusted.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(allowed, append([]byte("deploy@acme.invalid "), pub...), 0o644); err != nil {
		t.Fatal(err)
	}
	repo := harness.NewServedRepo(t, harness.ConfigMaps("a", "0"))
	push := func(msg, key string, files map[string]string) {
		t.Helper()
		repo.Write(files)
		repo.Git("add", "-A")
		args := []string{"commit", "-q", "-m", msg}
		if key != "" {
			args = append([]string{"-c", "gpg.format=ssh", "-c", "user.signingkey=" + filepath.Join(keys, key+".pub"), "-c", "commit.gpgsign=true"}, args...)
		}
		repo.Git(args...)
		repo.PushTo("app")
	}
	s, ns := engineStack(t, "verified", repo, func(d *stack.Stack) {
		d.Verify = &stack.Verify{Provider: "ssh", Keys: allowed}
	})
	r := newReconciler(t, s)

	push("signed", "trusted", harness.ConfigMaps("a", "1"))
	expectOutcome(t, r.reconcile(), gate.Applied)
	wantLive(t, ns, "verified", map[string]string{"a": "1"})

	for _, tc := range []struct{ name, key, want string }{
		{"unsigned", "", "is not signed"},
		{"signed by another key", "other", "not one of the stack's keys"},
	} {
		push(tc.name, tc.key, harness.ConfigMaps("a", "2", "evil", tc.name))
		res, err := s.Engine.Reconcile(context.Background(), engine.ReconcileRequest{Stack: s.Def, Cluster: s.Kube, Reader: r.cache, Actor: "engine-test", Apply: harness.ApplyOptions()})
		if err == nil || !strings.Contains(err.Error(), tc.want) || res.Phase != "render" {
			t.Fatalf("%s commit: %v (phase %s), want refused in render saying %q", tc.name, err, res.Phase, tc.want)
		}
		wantLive(t, ns, "verified", map[string]string{"a": "1"})
	}
	if n := auditCount(t, s, event.CommitRefused); n != 2 {
		t.Errorf("%d commit.refused events, want 2", n)
	}
	if n := countRows(t, s, "plans", "stack = 'verified'"); n != 1 {
		t.Errorf("%d plans recorded, want only the verified commit's", n)
	}
	push("signed again", "trusted", harness.ConfigMaps("a", "3"))
	expectOutcome(t, r.reconcile(), gate.Applied)
	wantLive(t, ns, "verified", map[string]string{"a": "3"})
}
