package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/plan/planfile"
)

// TestWritePlanfilePrivate: a planfile (it holds Secret values) is a
// regular file of mode 0600 at the path given, whatever was there: a file
// with a wider mode is replaced, not truncated in place; a symlink planted
// at the path is replaced itself and its target (a victim file, or a file
// it would create) is never written; a failed write leaves the old file and
// no temporary file behind. Profiles (--profile-output) are written the
// same way.
func TestWritePlanfilePrivate(t *testing.T) {
	t.Parallel()
	p := &plan.Plan{FormatVersion: plan.FormatVersion, ID: "p-1", Stack: "shop"}
	key := object.HashKey("test stack key")
	var err error
	if p.Digest, err = plan.Digest(p, key); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T, dir, path string) // what is at path before
		write   func(path string) error
		wantErr string
		// victims are files that must keep their content ("" : must not exist).
		victims map[string]string
		// oldContent: path must still hold this (a failed write).
		oldContent string
		// profile: the file is a pprof profile, not a planfile.
		profile bool
		// link: path must still be a symlink to this (a refused write).
		link string
	}{
		{name: "new file"},
		{name: "existing file 0644", prepare: func(t *testing.T, _, path string) { writeMode(t, path, "old", 0o644) }},
		{name: "existing file 0666", prepare: func(t *testing.T, _, path string) { writeMode(t, path, "old", 0o666) }},
		{name: "existing file 0600", prepare: func(t *testing.T, _, path string) { writeMode(t, path, "old", 0o600) }},
		{
			name: "symlink to a victim file",
			prepare: func(t *testing.T, dir, path string) {
				writeMode(t, filepath.Join(dir, "bashrc"), "victim", 0o644)
				symlink(t, filepath.Join(dir, "bashrc"), path)
			},
			victims: map[string]string{"bashrc": "victim"},
		},
		{
			name: "relative symlink to a victim file",
			prepare: func(t *testing.T, dir, path string) {
				writeMode(t, filepath.Join(dir, "bashrc"), "victim", 0o644)
				symlink(t, "bashrc", path)
			},
			victims: map[string]string{"bashrc": "victim"},
		},
		{
			name:    "dangling symlink",
			prepare: func(t *testing.T, dir, path string) { symlink(t, filepath.Join(dir, "created"), path) },
			victims: map[string]string{"created": ""},
		},
		{
			name: "path is a directory",
			prepare: func(t *testing.T, _, path string) {
				if err := os.Mkdir(path, 0o755); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: "it is not a regular file (a directory)",
		},
		{
			name:    "symlink to a device (--out /dev/stdout)",
			prepare: func(t *testing.T, _, path string) { symlink(t, "/dev/null", path) },
			wantErr: "it is not a regular file (a device)",
			link:    "/dev/null",
		},
		{
			name: "a named pipe",
			prepare: func(t *testing.T, _, path string) {
				if err := syscall.Mkfifo(path, 0o600); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: "it is not a regular file (a pipe)",
		},
		{
			name: "cpu profile through a symlink",
			prepare: func(t *testing.T, dir, path string) {
				writeMode(t, filepath.Join(dir, "bashrc"), "victim", 0o644)
				symlink(t, filepath.Join(dir, "bashrc"), path)
			},
			write: func(path string) error {
				stop, err := startProfile("cpu", path)
				if err != nil {
					return err
				}
				return stop()
			},
			victims: map[string]string{"bashrc": "victim"},
			profile: true,
		},
		{
			name:    "heap profile over a file 0644",
			prepare: func(t *testing.T, _, path string) { writeMode(t, path, "old", 0o644) },
			write: func(path string) error {
				stop, err := startProfile("heap", path)
				if err != nil {
					return err
				}
				return stop()
			},
			profile: true,
		},
		{name: "missing directory", write: func(path string) error { return writePlanfile(filepath.Join(path, "nope", "x.plan"), p) }, wantErr: "no such file or directory"},
		{
			name:    "failed write",
			prepare: func(t *testing.T, _, path string) { writeMode(t, path, "old", 0o600) },
			write: func(path string) error {
				return writePrivate(path, func(w io.Writer) error { _, _ = io.WriteString(w, "partial"); return errors.New("encoder broke") })
			},
			wantErr:    "encoder broke",
			oldContent: "old",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "shop.plan")
			if tc.prepare != nil {
				tc.prepare(t, dir, path)
			}
			write := tc.write
			if write == nil {
				write = func(path string) error { return writePlanfile(path, p) }
			}
			err := write(path)
			for name, want := range tc.victims {
				got, rerr := os.ReadFile(filepath.Join(dir, name))
				switch {
				case want == "" && !errors.Is(rerr, os.ErrNotExist):
					t.Errorf("%s was created through the symlink (%v)", name, rerr)
				case want != "" && string(got) != want:
					t.Errorf("%s was written through the symlink: %q", name, got)
				}
			}
			assertNoTemporaries(t, dir)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
				}
				if tc.oldContent != "" {
					if got, _ := os.ReadFile(path); string(got) != tc.oldContent {
						t.Errorf("a failed write changed the file: %q", got)
					}
				}
				if tc.link != "" {
					if got, err := os.Readlink(path); err != nil || got != tc.link {
						t.Errorf("the symlink was replaced: %q, %v", got, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Lstat(path)
			if err != nil {
				t.Fatal(err)
			}
			if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
				t.Errorf("%s is %v, want a regular file of mode 0600", path, fi.Mode())
			}
			if tc.profile {
				return
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := planfile.Read(f, func(string) (object.HashKey, error) { return key, nil })
			if err != nil || got.ID != p.ID {
				t.Errorf("the planfile reads back as %v, %v", got, err)
			}
		})
	}
}

func writeMode(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, path string) {
	t.Helper()
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
}

func assertNoTemporaries(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}
