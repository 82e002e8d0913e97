// Command demo is what `make demo` runs: it starts a local control plane
// (bin/ from `make testcluster`) and the embedded Postgres, puts the example
// stack into a fresh Git repository, and runs the real gantry CLI against
// them, printing each command and its output. Everything it starts, it stops
// by process id before exiting, also on failure or Ctrl-C.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gantryops/gantry/internal/testcluster"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

// demo holds what the walk-through uses.
type demo struct {
	root, work string // repository root; .demo/ under it
	gantry     string // the gantry binary
	env        []string
	hookURL    string // the demo's webhook receiver, for gantry run's notifications
}

func run(ctx context.Context) (err error) {
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	d := &demo{root: root, work: filepath.Join(root, ".demo"), gantry: filepath.Join(root, "bin", "gantry")}
	if _, err := os.Stat(d.gantry); err != nil {
		return fmt.Errorf("%s missing: run `make demo`, which builds it", d.gantry)
	}
	if err := os.RemoveAll(d.work); err != nil {
		return err
	}
	if err := os.MkdirAll(d.work, 0o755); err != nil {
		return err
	}

	cluster, err := d.startCluster(ctx)
	if err != nil {
		return err
	}
	defer func() {
		step("Stop the control plane (pids %v)", cluster.Pids())
		err = errors.Join(err, cluster.Stop())
	}()

	step("Start gantry's embedded Postgres (the default when no --database-url is set)")
	if err := d.gantryCmd(ctx, "db", "start"); err != nil {
		return err
	}
	defer func() {
		step("Stop the embedded Postgres")
		err = errors.Join(err, d.gantryCmd(context.Background(), "db", "stop"))
	}()

	repo := filepath.Join(d.work, "stack-repo")
	if err := d.initRepo(ctx, repo); err != nil {
		return err
	}

	step("Render the stack's demo overlay at the branch head")
	if err := d.gantryCmd(ctx, "render", "--repo", repo, "--ref", "main", "--path", "overlays/demo"); err != nil {
		return err
	}

	config := filepath.Join(d.work, "gantry.yaml")
	if err := copyFile(filepath.Join(root, "examples", "gantry.yaml"), config); err != nil {
		return err
	}
	if err := d.planAndApply(ctx, config, repo); err != nil {
		return err
	}
	if err := d.restore(ctx, config); err != nil {
		return err
	}
	if err := d.registries(ctx); err != nil {
		return err
	}
	return d.engine(ctx, config, repo)
}

// registries applies a chart from a Helm repository and an artifact from
// an OCI registry, each served on loopback for the step.
func (d *demo) registries(ctx context.Context) error {
	if err := d.chart(ctx); err != nil {
		return err
	}
	return d.artifact(ctx)
}

// startCluster starts the local control plane from bin/ and points the
// demo's gantry at it.
func (d *demo) startCluster(ctx context.Context) (*testcluster.Cluster, error) {
	step("Start a local control plane (etcd, kube-apiserver, kube-controller-manager from bin/)")
	opts := testcluster.DefaultOptions()
	opts.BinDir, opts.Dir = filepath.Join(d.root, "bin"), filepath.Join(d.work, "cluster")
	started := time.Now()
	cluster, err := testcluster.Start(ctx, opts)
	if err != nil {
		return nil, err
	}
	fmt.Printf("API server %s ready in %s; kubeconfig %s\n", cluster.Config.Host, time.Since(started).Round(time.Millisecond), cluster.Kubeconfig)
	d.env = append(os.Environ(), "KUBECONFIG="+cluster.Kubeconfig, "GANTRY_DATABASE_URL=")
	return cluster, nil
}

// initRepo puts the example stack (examples/stack) into a new Git
// repository at repo, in one commit.
func (d *demo) initRepo(ctx context.Context, repo string) error {
	step("Put the example stack (examples/stack) into a Git repository")
	if err := copyDir(filepath.Join(d.root, "examples", "stack"), repo); err != nil {
		return err
	}
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"add", "-A"},
		{"-c", "user.name=gantry demo", "-c", "user.email=demo@gantry.invalid", "commit", "-q", "-m", "shop: web frontend"},
	} {
		if err := d.command(ctx, repo, "git", args...); err != nil {
			return err
		}
	}
	return nil
}

// planAndApply plans and applies the stack, changes it in Git, shows the
// change as a pull-request comment would, and applies it.
func (d *demo) planAndApply(ctx context.Context, config, repo string) error {
	step("Plan the stack against the cluster (examples/gantry.yaml)")
	if err := d.gantryCmd(ctx, "plan", "--config", config, "--stack", "shop"); err != nil {
		return err
	}

	// No kubelet runs on the demo control plane: Pods never start, so the
	// applies below do not wait for readiness (--wait=false).
	step("Apply it, answering the prompt (no kubelet runs here, so no waiting for Pods: --wait=false)")
	if err := d.gantryAnswering(ctx, "yes", "apply", "--config", config, "--stack", "shop", "--wait=false"); err != nil {
		return err
	}

	step("Plan again: no changes. The apply recorded the no-op memo; only the Deployment, which its controller annotated since, is dry-run again")
	if err := d.gantryCmd(ctx, "plan", "--config", config, "--stack", "shop"); err != nil {
		return err
	}

	step("Change the stack in Git: three replicas, and no more Service")
	if err := d.commit(ctx, repo, "shop: three replicas, no Service", func() error {
		if err := replaceIn(filepath.Join(repo, "base", "deployment.yaml"), "replicas: 2", "replicas: 3"); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(repo, "base", "kustomization.yaml"), []byte("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - deployment.yaml\n"), 0o644)
	}); err != nil {
		return err
	}

	step("The change as a pull-request comment shows it (gantry plan -o markdown; gantry review github keeps it on the pull request)")
	if err := d.gantryCmd(ctx, "plan", "--config", config, "--stack", "shop", "-o", "markdown"); err != nil {
		return err
	}

	// History shows apply times to the second; a second apart, the restore
	// below can name the first apply by the time history shows for it.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	step("Apply the change: the Deployment is updated in place, the Service pruned")
	if err := d.gantryAnswering(ctx, "yes", "apply", "--config", config, "--stack", "shop", "--wait=false"); err != nil {
		return err
	}
	step("The cluster matches the new commit")
	if err := d.gantryCmd(ctx, "plan", "--config", config, "--stack", "shop"); err != nil {
		return err
	}
	return nil
}

// restore shows the history, restores the first revision of this run by
// the time it was live, shows the hold, and resumes.
func (d *demo) restore(ctx context.Context, config string) error {
	step("The history of the stack, newest first (the database outlives demo runs: earlier runs' applies are below)")
	if err := d.gantryCmd(ctx, "history", "shop", "--limit", "3"); err != nil {
		return err
	}
	var log struct {
		Applies []struct {
			AppliedAt time.Time `json:"applied_at"`
		} `json:"applies"`
	}
	cmd := exec.CommandContext(ctx, d.gantry, "history", "shop", "--limit", "2", "-o", "json")
	cmd.Dir, cmd.Env, cmd.Stderr = d.root, d.env, os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("gantry history -o json: %w", err)
	}
	if err := json.Unmarshal(out, &log); err != nil || len(log.Applies) != 2 {
		return fmt.Errorf("gantry history -o json: %d applies, %v", len(log.Applies), err)
	}
	// The time history shows (to the second) names the first apply, unless
	// both applies finished within the same second: then say it exactly.
	first, second := log.Applies[1].AppliedAt, log.Applies[0].AppliedAt
	at := first.UTC().Format("2006-01-02 15:04:05")
	if first.Truncate(time.Second).Equal(second.Truncate(time.Second)) {
		at = first.UTC().Format(time.RFC3339Nano)
	}

	step("Restore the stack as it was at %s, the first apply: from Postgres alone, as a normal plan, answering the prompt", at)
	if err := d.gantryAnswering(ctx, "yes", "restore", "shop", "--at", at, "--wait=false"); err != nil {
		return err
	}
	step("The stack is now held: history shows it, and applying Git HEAD again (which the restore replaced) is refused")
	if err := d.gantryCmd(ctx, "history", "shop", "--limit", "3"); err != nil {
		return err
	}
	if err := d.gantryCmd(ctx, "apply", "--config", config, "--stack", "shop", "--wait=false"); err == nil {
		return errors.New("the apply of Git HEAD over the restore was not refused")
	}
	fmt.Println("(refused, as it should be: exit status 1)")

	step("gantry resume lifts the hold (so does applying a newer commit); Git HEAD applies again")
	if err := d.gantryCmd(ctx, "resume", "shop"); err != nil {
		return err
	}
	return d.gantryAnswering(ctx, "yes", "apply", "--config", config, "--stack", "shop", "--wait=false")
}

// gantryAnswering runs gantry, and when it asks "Enter a value:", shows the
// answer and gives it.
func (d *demo) gantryAnswering(ctx context.Context, answer string, args ...string) error {
	fmt.Printf("$ gantry %s\n", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, d.gantry, args...)
	cmd.Dir, cmd.Env, cmd.Stderr = d.root, d.env, os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	var seen strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := stdout.Read(buf)
		os.Stdout.Write(buf[:n])
		seen.Write(buf[:n])
		if strings.HasSuffix(strings.TrimRight(seen.String(), " "), "Enter a value:") {
			fmt.Println(answer) // what a person would type
			fmt.Fprintln(stdin, answer)
			stdin.Close()
			seen.Reset()
		}
		if err != nil {
			break
		}
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("gantry %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}

func (d *demo) gantryCmd(ctx context.Context, args ...string) error {
	return d.command(ctx, d.root, d.gantry, args...)
}

// command runs a program, echoing the command line and passing its output through.
func (d *demo) command(ctx context.Context, dir, name string, args ...string) error {
	shown := filepath.Base(name)
	fmt.Printf("$ %s %s\n", shown, strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = dir, d.env
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", shown, strings.Join(args, " "), err)
	}
	return nil
}

func step(format string, args ...any) {
	fmt.Printf("\n==> %s\n", fmt.Sprintf(format, args...))
}

func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if e.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, data, 0o644)
	})
}
