package source

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"

	"github.com/gantryops/gantry/internal/flock"
	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

func cacheKey(remoteURL string) string {
	sum := sha256.Sum256([]byte(remoteURL))
	return hex.EncodeToString(sum[:12])
}

// openCache opens (or creates) the bare repository caching remoteURL in
// dir, private to its owner: go-git writes objects world-readable (0644
// in 0755 directories), so the repository's own directory is made 0700,
// also when an older gantry left it open, since it holds the contents of
// private repositories.
func openCache(dir, remoteURL string) (*git.Repository, error) {
	st := cacheStorage(dir)
	r, err := git.Open(st, nil)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		r, err = git.Init(st, nil) // bare
	}
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, err
	}
	if _, err := r.Remote("origin"); errors.Is(err, git.ErrRemoteNotFound) {
		_, err = r.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{remoteURL}})
		if err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	return r, nil
}

// largeObjectBytes is the size from which objects of the cache are read
// as streams rather than whole into memory: a tree or a blob a render
// refuses for its size costs nothing, and one it reads is not held twice.
const largeObjectBytes = 1 << 20

// cacheStorage opens the bare repository at dir, as the fetch and the
// renders (in this process and in the sandbox) read it.
func cacheStorage(dir string) *filesystem.Storage {
	return filesystem.NewStorageWithOptions(osfs.New(dir), cache.NewObjectLRUDefault(),
		filesystem.Options{LargeObjectThreshold: largeObjectBytes})
}

// renderStorage opens the bare repository at dir for the render of a
// sandbox process: it keeps up to four pack files open between reads (a
// chart's many small files would otherwise open the pack for each), and
// the process ends with the render.
func renderStorage(dir string) *filesystem.Storage {
	return filesystem.NewStorageWithOptions(osfs.New(dir), cache.NewObjectLRUDefault(),
		filesystem.Options{LargeObjectThreshold: largeObjectBytes, MaxOpenDescriptors: 4})
}

// lockDir takes an exclusive flock on dir+".lock" so that processes sharing a
// cache never write one repository at once. The lock dies with the process.
// A cache directory gantry creates is private (0700): it holds the
// contents of private repositories.
func lockDir(dir string) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return nil, err
	}
	return flock.Lock(dir + ".lock")
}
