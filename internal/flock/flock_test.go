package flock

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestLockExcludes: a second Lock of the same path waits until the first
// is released; a symlink at the path is refused.
func TestLockExcludes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	unlock, err := Lock(path)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan func(), 1)
	go func() {
		u, err := Lock(path)
		if err != nil {
			t.Error(err)
		}
		got <- u
	}()
	select {
	case <-got:
		t.Fatal("a second Lock was granted while the first was held")
	case <-time.After(100 * time.Millisecond):
	}
	unlock()
	select {
	case u := <-got:
		u()
	case <-time.After(5 * time.Second):
		t.Fatal("the second Lock was not granted after the first was released")
	}
	link := filepath.Join(t.TempDir(), "link.lock")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	if u, err := Lock(link); err == nil {
		u()
		t.Fatal("Lock went through a symlink")
	}
}
