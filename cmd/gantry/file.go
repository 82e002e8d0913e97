package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// privateFile is a file that replaces path once it is complete: written to a
// new file of its own in path's directory (O_EXCL|O_NOFOLLOW, mode 0600),
// synced, then renamed over path. So the file at path is 0600 whatever was
// there before (a file with a wider mode is replaced, not truncated), a
// symlink planted at path is replaced itself rather than written through,
// and a failed write leaves path as it was. Every file gantry writes for a
// user (planfiles hold Secret values; profiles) goes through it.
type privateFile struct {
	*os.File
	path string
	done bool
}

// createPrivate starts a private file that will replace path.
func createPrivate(path string) (*privateFile, error) {
	dir, base := filepath.Split(path)
	if base == "" {
		return nil, fmt.Errorf("write %s: give a file name, not a directory", path)
	}
	if dir == "" {
		dir = "."
	}
	if err := replaceable(path); err != nil {
		return nil, err
	}
	for range 10 {
		var suffix [8]byte
		if _, err := rand.Read(suffix[:]); err != nil {
			return nil, err
		}
		tmp := filepath.Join(dir, "."+base+"."+hex.EncodeToString(suffix[:])+".tmp")
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("write %s: %w", path, err)
		}
		return &privateFile{File: f, path: path}, nil
	}
	return nil, fmt.Errorf("write %s: no free temporary name in %s", path, dir)
}

// replaceable refuses a path that is not a file gantry may replace: a
// directory, a device, a pipe or a socket, or a symlink to one. Renaming
// over `--out /dev/stdout` would replace the system's link with a file.
// A symlink to a regular file (or to nothing) is replaced itself, as
// privateFile says.
func replaceable(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	kind := fi.Mode()
	if kind&fs.ModeSymlink != 0 {
		target, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		kind = target.Mode()
	}
	if !kind.IsRegular() {
		return fmt.Errorf("write %s: it is not a regular file (a %s): gantry writes a new private file in place of the path, so give the path of a file (to print a plan, use -o json)", path, describeMode(kind))
	}
	return nil
}

// describeMode names the kind of file a mode is.
func describeMode(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&fs.ModeNamedPipe != 0:
		return "pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// Commit makes the written content the file at path: sync, close, rename
// over path (the name itself, never a symlink's target), sync the directory.
func (f *privateFile) Commit() error {
	if f.done {
		return nil
	}
	f.done = true
	tmp := f.Name()
	err := f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, f.path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", f.path, err)
	}
	if d, err := os.Open(filepath.Dir(f.path)); err == nil {
		_ = d.Sync() // durability of the rename; the content is already safe
		d.Close()
	}
	return nil
}

// Abort throws the written content away; path stays as it was. After Commit
// it does nothing, so `defer f.Abort()` is safe.
func (f *privateFile) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.Close()
	_ = os.Remove(f.Name())
}

// writePrivate replaces path with what write writes, as a private file.
func writePrivate(path string, write func(io.Writer) error) error {
	f, err := createPrivate(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	if err := write(f); err != nil {
		return err
	}
	return f.Commit()
}
