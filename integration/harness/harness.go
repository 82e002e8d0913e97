// Package harness is the shared setup of gantry's end-to-end tests: one real
// control plane and one embedded Postgres per test binary (Main), and per
// test a stack with its own database, the real engine, and helpers to plan,
// apply and wait. A control plane or database that cannot start fails the
// test binary; nothing is skipped.
package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/gantryops/gantry/internal/testcluster"
	"github.com/gantryops/gantry/source"
	"github.com/gantryops/gantry/state/statetest"
)

// Env is what a test binary shares: the control plane and the database server.
type Env struct {
	Cluster *testcluster.Cluster
	DB      *statetest.Server

	dir       string // removed when the test binary ends
	buildOnce sync.Once
	gantry    string
	buildErr  error
}

// Gantry builds the gantry binary once per test binary and returns its path.
func (e *Env) Gantry(t testing.TB) string {
	t.Helper()
	e.buildOnce.Do(func() {
		e.gantry = filepath.Join(e.dir, "gantry")
		out, err := exec.Command("go", "build", "-o", e.gantry, "github.com/gantryops/gantry/cmd/gantry").CombinedOutput()
		if err != nil {
			e.buildErr = fmt.Errorf("go build gantry: %v\n%s", err, out)
		}
	})
	if e.buildErr != nil {
		t.Fatal(e.buildErr)
	}
	return e.gantry
}

// Main starts the control plane and Postgres, runs the tests and stops both:
// func TestMain(m *testing.M) { os.Exit(harness.Main(m, &env)) }
func Main(m *testing.M, env **Env) int {
	dir, err := os.MkdirTemp("", "gantry-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	opts := testcluster.DefaultOptions()
	opts.Dir = dir
	start := time.Now()
	cluster, err := testcluster.Start(context.Background(), opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "end-to-end tests need the test control plane and it did not start:\n%v\n", err)
		return 1
	}
	defer func() {
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop control plane:", err)
		}
	}()
	db, err := statetest.Start(context.Background())
	if err != nil {
		fmt.Fprintf(os.Stderr, "end-to-end tests need Postgres and the embedded server did not start:\n%v\n", err)
		return 1
	}
	defer db.Stop()
	fmt.Fprintf(os.Stderr, "control plane and Postgres ready in %s (control plane pids %v, postgres pid %d)\n",
		time.Since(start).Round(time.Millisecond), cluster.Pids(), db.Pid())
	*env = &Env{Cluster: cluster, DB: db, dir: dir}
	return m.Run()
}

// Clientset returns an administrator clientset.
func (e *Env) Clientset(t testing.TB) *kubernetes.Clientset {
	t.Helper()
	cs, err := kubernetes.NewForConfig(e.Cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// Namespace creates a namespace for one test, deleted when it ends.
func (e *Env) Namespace(t testing.TB) string {
	t.Helper()
	cs := e.Clientset(t)
	ns, err := cs.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "test-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{})
	})
	return ns.Name
}

// Eventually polls cond every 100ms until it returns nil or timeout passes.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	for {
		if last = cond(ctx); last == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not true after %s: %v", what, timeout, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Gone turns a GET into a condition for Eventually: true once it is NotFound.
func Gone(get func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		err := get(ctx)
		switch {
		case apierrors.IsNotFound(err):
			return nil
		case err != nil:
			return err
		}
		return fmt.Errorf("still present")
	}
}

// Render renders the directory or file at path (relative to the test's
// working directory) from disk, as a revision.
func Render(t testing.TB, path string) []*unstructured.Unstructured {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := source.Render(filesys.MakeFsOnDisk(), abs, source.DefaultRenderOptions())
	if err != nil {
		t.Fatal(err)
	}
	return objs
}
