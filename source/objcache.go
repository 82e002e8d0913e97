package source

import (
	"container/list"
	"io"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// objectCacheBytes bounds the objects the process keeps inflated between
// renders (objectCache).
const objectCacheBytes = 64 << 20

// objectCache keeps the Git objects renders read (trees and blobs up to
// largeObjectBytes), inflated, across renders of one process: `gantry
// run` renders the same commits at every reconcile, and a new commit of
// a chart shares most of its files with the last. Objects are immutable
// and named by their hash; entries are keyed by the repository's cache
// directory too, so that no repository is ever served another's object.
var objectCache = newObjectLRU(objectCacheBytes)

// cachedObjects reads objects of the bare repository dir through
// objectCache, and from objects on a miss.
type cachedObjects struct {
	storer.EncodedObjectStorer
	dir string
}

// withObjectCache wraps objects of the repository at dir ("": unknown,
// not cached).
func withObjectCache(objects storer.EncodedObjectStorer, dir string) storer.EncodedObjectStorer {
	if dir == "" {
		return objects
	}
	return cachedObjects{EncodedObjectStorer: objects, dir: dir}
}

// EncodedObject returns the object h of type t (plumbing.AnyObject: any).
func (c cachedObjects) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	key := objectKey{c.dir, h}
	if o, ok := objectCache.get(key); ok && (t == plumbing.AnyObject || o.Type() == t) {
		return o, nil
	}
	o, err := c.EncodedObjectStorer.EncodedObject(t, h)
	if err != nil || o.Size() > largeObjectBytes {
		return o, err // large objects stream from the pack, uncached
	}
	mem, err := inflate(o)
	if err != nil {
		return nil, err
	}
	objectCache.put(key, mem)
	return mem, nil
}

// inflate reads o whole into memory.
func inflate(o plumbing.EncodedObject) (*plumbing.MemoryObject, error) {
	r, err := o.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	mem := &plumbing.MemoryObject{}
	mem.SetType(o.Type())
	if _, err := io.Copy(mem, r); err != nil {
		return nil, err
	}
	if mem.Hash() != o.Hash() {
		return nil, errCorrupt(o.Hash())
	}
	return mem, nil
}

type errCorrupt plumbing.Hash

func (e errCorrupt) Error() string {
	return "Git object " + plumbing.Hash(e).String() + " does not hash to its name: the cache is damaged"
}

type objectKey struct {
	dir  string
	hash plumbing.Hash
}

// objectLRU is a least-recently-used set of objects bounded by their
// bytes, safe for concurrent use.
type objectLRU struct {
	mu    sync.Mutex
	max   int64
	bytes int64
	order *list.List // front: most recent
	items map[objectKey]*list.Element
}

type lruEntry struct {
	key objectKey
	obj *plumbing.MemoryObject
}

func newObjectLRU(max int64) *objectLRU {
	return &objectLRU{max: max, order: list.New(), items: map[objectKey]*list.Element{}}
}

func (l *objectLRU) get(k objectKey) (*plumbing.MemoryObject, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.items[k]
	if !ok {
		return nil, false
	}
	l.order.MoveToFront(e)
	return e.Value.(*lruEntry).obj, true
}

func (l *objectLRU) put(k objectKey, o *plumbing.MemoryObject) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.items[k]; ok || o.Size() > l.max {
		return
	}
	l.items[k] = l.order.PushFront(&lruEntry{k, o})
	l.bytes += o.Size()
	for l.bytes > l.max {
		last := l.order.Back()
		e := last.Value.(*lruEntry)
		l.order.Remove(last)
		delete(l.items, e.key)
		l.bytes -= e.obj.Size()
	}
}
