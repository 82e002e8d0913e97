package gittest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Repo is a non-bare Git repository in a test's temporary directory.
type Repo struct {
	t testing.TB
	// Dir is the repository's working tree.
	Dir string
}

// NewRepo creates an empty repository whose default branch is main.
func NewRepo(t testing.TB) *Repo {
	t.Helper()
	r := &Repo{t: t, Dir: t.TempDir()}
	r.Git("init", "-q", "-b", "main")
	return r
}

// Git runs git in the repository with a fixed identity and returns its
// trimmed standard output; a failure fails the test.
func (r *Repo) Git(args ...string) string {
	r.t.Helper()
	return Run(r.t, r.Dir, args...)
}

// Run runs git in dir with a fixed identity and no user or system config.
func Run(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=gantry test", "GIT_AUTHOR_EMAIL=test@gantry.invalid",
		"GIT_COMMITTER_NAME=gantry test", "GIT_COMMITTER_EMAIL=test@gantry.invalid",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return strings.TrimSpace(string(out))
}

// Write writes files (repository-relative path → content), creating parent
// directories; an empty content with a path ending in "!" removes the file.
func (r *Repo) Write(files map[string]string) {
	r.t.Helper()
	for name, content := range files {
		if strings.HasSuffix(name, "!") {
			if err := os.RemoveAll(filepath.Join(r.Dir, strings.TrimSuffix(name, "!"))); err != nil {
				r.t.Fatal(err)
			}
			continue
		}
		p := filepath.Join(r.Dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
}

// Commit writes files, commits everything and returns the new commit's SHA.
func (r *Repo) Commit(msg string, files map[string]string) string {
	r.t.Helper()
	r.Write(files)
	r.Git("add", "-A")
	r.Git("commit", "-q", "--allow-empty", "-m", msg)
	return r.Git("rev-parse", "HEAD")
}

// CopyDir copies the directory src into the repository at dst.
func (r *Repo) CopyDir(src, dst string) {
	r.t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(r.Dir, dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, data, 0o644)
	})
	if err != nil {
		r.t.Fatalf("copy %s: %v", src, err)
	}
}

// Bare clones the repository into a bare repository named name+".git" under
// root (created when missing) and returns the bare repository's path. Push to
// it with PushTo.
func (r *Repo) Bare(root, name string) string {
	r.t.Helper()
	dst := filepath.Join(root, name+".git")
	Run(r.t, root, "clone", "-q", "--bare", r.Dir, dst)
	r.Git("remote", "add", name, dst)
	return dst
}

// PushTo force-pushes every branch and tag to the remote created by Bare.
func (r *Repo) PushTo(name string) {
	r.t.Helper()
	r.Git("push", "-q", "--force", name, "refs/heads/*:refs/heads/*")
	r.Git("push", "-q", "--force", name, "refs/tags/*:refs/tags/*")
}
