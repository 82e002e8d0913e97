package source

import (
	"fmt"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func memObject(t plumbing.ObjectType, content string) *plumbing.MemoryObject {
	o := &plumbing.MemoryObject{}
	o.SetType(t)
	o.Write([]byte(content))
	return o
}

// TestObjectLRU: bounded by bytes (the least recently used go first),
// keyed by repository as well as hash, an object larger than the bound
// never kept.
func TestObjectLRU(t *testing.T) {
	l := newObjectLRU(100)
	a, b, c := memObject(plumbing.BlobObject, strings.Repeat("a", 40)), memObject(plumbing.BlobObject, strings.Repeat("b", 40)), memObject(plumbing.BlobObject, strings.Repeat("c", 40))
	l.put(objectKey{"r1", a.Hash()}, a)
	l.put(objectKey{"r1", b.Hash()}, b)
	if _, ok := l.get(objectKey{"r1", a.Hash()}); !ok { // a is now the most recent
		t.Fatal("a was not kept")
	}
	l.put(objectKey{"r1", c.Hash()}, c) // 120 bytes: b, the least recent, goes
	if _, ok := l.get(objectKey{"r1", b.Hash()}); ok {
		t.Error("b was kept past the bound")
	}
	for _, o := range []*plumbing.MemoryObject{a, c} {
		if _, ok := l.get(objectKey{"r1", o.Hash()}); !ok {
			t.Errorf("%s was dropped", o.Hash())
		}
	}
	if _, ok := l.get(objectKey{"r2", a.Hash()}); ok {
		t.Error("another repository was served r1's object")
	}
	big := memObject(plumbing.BlobObject, strings.Repeat("x", 101))
	l.put(objectKey{"r1", big.Hash()}, big)
	if _, ok := l.get(objectKey{"r1", big.Hash()}); ok || l.bytes > 100 {
		t.Errorf("an object over the bound was kept (%d bytes held)", l.bytes)
	}
}

// TestDecodeAllIsDecodeFiles: decoding a chart's output on every core
// gives what decoding it in order gives, row by row: the objects in
// order, and the same first error, scrubbed of the Secret values decoded
// before it (in earlier files, and earlier in its own).
func TestDecodeAllIsDecodeFiles(t *testing.T) {
	cm := func(name string) string { return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + name + "}\n" }
	secret := "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {password: hunter2-decode}\n"
	bad := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: hunter2-decode/x}\n"
	many := func(n int, extra ...string) []string {
		var out []string
		for i := range n {
			out = append(out, cm(fmt.Sprintf("c%02d", i)))
		}
		return append(out, extra...)
	}
	rows := []struct {
		name  string
		files []string
		limit int
	}{
		{name: "objects in order", files: many(20)},
		{name: "documents in one file", files: append(many(10), cm("x")+"---\n"+cm("y"))},
		{name: "defined twice across files", files: many(12, cm("c03"))},
		{name: "an error after a Secret in an earlier file", files: append(append(many(8), secret), many(8, bad)...)},
		{name: "an error after a Secret in its own file", files: many(12, secret+"---\n"+bad)},
		{name: "over the limit", files: many(40), limit: 25},
	}
	for _, row := range rows {
		files := make([]namedData, len(row.files))
		for i, f := range row.files {
			files[i] = namedData{name: fmt.Sprintf("f%02d.yaml", i), data: []byte(f)}
		}
		seq, seqErr := decodeFiles(len(files), func(i int) (namedData, error) { return files[i], nil }, row.limit)
		par, parErr := decodeAll(files, row.limit)
		if fmt.Sprint(seqErr) != fmt.Sprint(parErr) || names(seq) != names(par) {
			t.Errorf("%s: in order %s, %v; on every core %s, %v", row.name, names(seq), seqErr, names(par), parErr)
		}
		if parErr != nil && strings.Contains(parErr.Error(), "hunter2-decode") {
			t.Errorf("%s: the error holds a Secret value: %v", row.name, parErr)
		}
	}
}

func names(objs []*unstructured.Unstructured) string {
	var out []string
	for _, u := range objs {
		out = append(out, u.GetName())
	}
	return strings.Join(out, ",")
}
