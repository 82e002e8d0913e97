package plan

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/value"

	"github.com/gantryops/gantry/object"
)

// FieldManager is the field manager gantry applies as.
const FieldManager = "gantry"

// project returns the parts of v the set names, keeping their structure: a
// member without children is copied whole, a member with children (a map or
// list element that exists for its own sake) only through its children.
func project(v any, s *fieldpath.Set) any {
	switch t := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for _, pe := range children(s) {
			if pe.FieldName == nil {
				continue
			}
			if x, ok := t[*pe.FieldName]; ok {
				child, _ := s.Children.Get(pe)
				out[*pe.FieldName] = project(x, child)
			}
		}
		for _, pe := range members(s) {
			if pe.FieldName == nil {
				continue
			}
			if _, done := out[*pe.FieldName]; done {
				continue
			}
			if x, ok := t[*pe.FieldName]; ok {
				out[*pe.FieldName] = runtime.DeepCopyJSONValue(x)
			}
		}
		return out
	case []any:
		out := []any{}
		for i, e := range t {
			if child, ok := matchChild(s, e, i); ok {
				out = append(out, project(e, child))
			} else if matchMember(s, e, i) {
				out = append(out, runtime.DeepCopyJSONValue(e))
			}
		}
		return out
	}
	return runtime.DeepCopyJSONValue(v)
}

// children and members list a set's path elements. structured-merge-diff's
// All() iterators do not stop when a range loop breaks (the Go runtime then
// panics), so sets are walked with Iterate.
func children(s *fieldpath.Set) []fieldpath.PathElement {
	var out []fieldpath.PathElement
	s.Children.Iterate(func(pe fieldpath.PathElement) { out = append(out, pe) })
	return out
}

func members(s *fieldpath.Set) []fieldpath.PathElement {
	var out []fieldpath.PathElement
	s.Members.Iterate(func(pe fieldpath.PathElement) { out = append(out, pe) })
	return out
}

func matchChild(s *fieldpath.Set, elem any, index int) (*fieldpath.Set, bool) {
	for _, pe := range children(s) {
		if matches(pe, elem, index) {
			return s.Children.Get(pe)
		}
	}
	return nil, false
}

func matchMember(s *fieldpath.Set, elem any, index int) bool {
	for _, pe := range members(s) {
		if matches(pe, elem, index) {
			return true
		}
	}
	return false
}

// matches reports whether list element elem at index is the one pe selects.
func matches(pe fieldpath.PathElement, elem any, index int) bool {
	switch {
	case pe.Index != nil:
		return *pe.Index == index
	case pe.Value != nil:
		return value.Equals(value.NewValueInterface(elem), *pe.Value)
	case pe.Key != nil:
		m, ok := elem.(map[string]any)
		if !ok {
			return false
		}
		for _, f := range *pe.Key {
			x, ok := m[f.Name]
			if !ok || !value.Equals(value.NewValueInterface(x), f.Value) {
				return false
			}
		}
		return true
	}
	return false
}

// identity keeps the fields that say which object a projection is of.
func withIdentity(projected any, u *unstructured.Unstructured) *unstructured.Unstructured {
	m, _ := projected.(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	out := &unstructured.Unstructured{Object: m}
	out.SetAPIVersion(u.GetAPIVersion())
	out.SetKind(u.GetKind())
	md, _ := m["metadata"].(map[string]any)
	if md == nil {
		md = map[string]any{}
		m["metadata"] = md
	}
	md["name"] = u.GetName()
	if ns := u.GetNamespace(); ns != "" {
		md["namespace"] = ns
	}
	return out
}

// comparison is the outcome of comparing a live object with an apply result.
type comparison struct {
	changed       bool
	before, after *unstructured.Unstructured
}

// compare decides whether after (a dry-run or predicted apply result) differs
// from live in anything the apply is responsible for: the values at every
// path gantry owns before or after, and gantry's ownership itself. Fields of
// other managers, status and server bookkeeping are not the apply's doing.
func compare(live, after *unstructured.Unstructured) (comparison, error) {
	ownedLive, err := ownedSet(live, FieldManager)
	if err != nil {
		return comparison{}, err
	}
	ownedAfter, err := ownedSet(after, FieldManager)
	if err != nil {
		return comparison{}, err
	}
	union := ownedLive.Union(ownedAfter)
	before := withIdentity(project(live.Object, union), live)
	afterP := withIdentity(project(after.Object, union), after)
	changed := !reflect.DeepEqual(before.Object, afterP.Object) || !implied(ownedLive).Equals(implied(ownedAfter))
	return comparison{changed: changed, before: before, after: afterP}, nil
}

// implied returns s without the members that also have children: a path
// with children exists anyway. Schemas differ in whether they record such
// members (a schema deduced from the object does, the server's usually not),
// and the difference must not read as a change of ownership.
func implied(s *fieldpath.Set) *fieldpath.Set {
	out := &fieldpath.Set{}
	for _, pe := range members(s) {
		if _, hasChildren := s.Children.Get(pe); !hasChildren {
			out.Insert(fieldpath.Path{pe})
		}
	}
	for _, pe := range children(s) {
		child, _ := s.Children.Get(pe)
		implied(child).Iterate(func(p fieldpath.Path) {
			out.Insert(append(fieldpath.Path{pe}, p...))
		})
	}
	return out
}

// ownedView reduces u to the fields gantry owns in it, or, when it owns
// none (an object applied by someone else), to u without server bookkeeping.
func ownedView(u *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	owned, err := ownedSet(u, FieldManager)
	if err != nil {
		return nil, err
	}
	if owned.Empty() {
		return stripServerFields(u), nil
	}
	return withIdentity(project(u.Object, owned), u), nil
}

// serverMetadata are fields the server maintains, never set by an apply.
var serverMetadata = []string{"uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"}

// stripServerFields returns a copy of u without status and server metadata.
func stripServerFields(u *unstructured.Unstructured) *unstructured.Unstructured {
	c := u.DeepCopy()
	delete(c.Object, "status")
	if md, ok := c.Object["metadata"].(map[string]any); ok {
		for _, f := range serverMetadata {
			delete(md, f)
		}
		if ann, ok := md["annotations"].(map[string]any); ok {
			delete(ann, object.LastApplied)
			if len(ann) == 0 {
				delete(md, "annotations")
			}
		}
	}
	return c
}

// fingerprint is the salted hash of what an apply's outcome depends on in a
// live object: everything but status, resourceVersion, generation, managed
// field timestamps and status-subresource entries. Status churn (a
// Deployment's conditions) leaves it unchanged; any spec, metadata or
// ownership change moves it.
func fingerprint(salt []byte, u *unstructured.Unstructured) (object.Hash, error) {
	// Shallow copies of the two maps edited; the rest is shared, read-only.
	top := make(map[string]any, len(u.Object))
	for k, v := range u.Object {
		if k != "status" {
			top[k] = v
		}
	}
	if md, ok := u.Object["metadata"].(map[string]any); ok {
		meta := make(map[string]any, len(md))
		for k, v := range md {
			switch k {
			case "resourceVersion", "generation", "managedFields":
			default:
				meta[k] = v
			}
		}
		entries, err := managedFields(u)
		if err != nil {
			return object.Hash{}, err
		}
		var kept []any
		for _, e := range entries {
			if e.Subresource == "status" {
				continue
			}
			e.Time = nil
			raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&e)
			if err != nil {
				return object.Hash{}, err
			}
			kept = append(kept, raw)
		}
		if kept != nil {
			meta["managedFields"] = kept
		}
		top["metadata"] = meta
	}
	return saltedHash(salt, top, "")
}

// desiredHash is the salted hash of a prepared desired manifest together with
// the apply options that shape its outcome.
func desiredHash(salt []byte, u *unstructured.Unstructured, force bool) (object.Hash, error) {
	return saltedHash(salt, u.Object, fmt.Sprintf("manager=%s force=%t", FieldManager, force))
}

// saltedHash is HMAC-SHA256 keyed by the stack's hash key over canonical
// JSON, so that hashes of Secrets confirm no guessed value without the key.
func saltedHash(salt []byte, v any, extra string) (object.Hash, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return object.Hash{}, err
	}
	mac := hmac.New(sha256.New, salt)
	mac.Write(b)
	mac.Write([]byte{0})
	mac.Write([]byte(extra))
	var h object.Hash
	mac.Sum(h[:0])
	return h, nil
}

func hashString(h object.Hash) string { return hex.EncodeToString(h[:]) }

// fieldDiffs lists the leaves that differ between before and after (either
// may be nil). Lists of maps that all have a name are matched by name, other
// lists compared whole. For Secrets, fields that hold Secret content
// (object.SecretFields) are reported as sensitive, without values.
func fieldDiffs(before, after *unstructured.Unstructured, secret bool) []FieldDiff {
	var b, a map[string]any
	if before != nil {
		b = before.Object
	}
	if after != nil {
		a = after.Object
	}
	var sensitive []object.SensitiveField
	if secret {
		sensitive = sensitiveFieldsOf(b, a)
	}
	var out []FieldDiff
	walkDiff("", b, a, func(path string, x, y any) {
		if object.IsSensitivePath(sensitive, path) {
			out = append(out, FieldDiff{Path: path, Sensitive: true})
			return
		}
		out = append(out, FieldDiff{Path: path, Before: x, After: y})
	})
	return out
}

func walkDiff(path string, x, y any, emit func(string, any, any)) {
	xm, xIsMap := x.(map[string]any)
	ym, yIsMap := y.(map[string]any)
	if (xIsMap || x == nil) && (yIsMap || y == nil) && (xIsMap || yIsMap) {
		keys := map[string]bool{}
		for k := range xm {
			keys[k] = true
		}
		for k := range ym {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			walkDiff(joinPath(path, k), xm[k], ym[k], emit)
		}
		return
	}
	xl, xIsList := x.([]any)
	yl, yIsList := y.([]any)
	if xIsList && yIsList && namedList(xl) && namedList(yl) {
		names := map[string]bool{}
		var order []string
		index := func(l []any) map[string]any {
			m := map[string]any{}
			for _, e := range l {
				n := e.(map[string]any)["name"].(string)
				m[n] = e
				if !names[n] {
					names[n] = true
					order = append(order, n)
				}
			}
			return m
		}
		xi, yi := index(xl), index(yl)
		for _, n := range order {
			walkDiff(fmt.Sprintf("%s[name=%s]", path, n), xi[n], yi[n], emit)
		}
		return
	}
	if !reflect.DeepEqual(x, y) {
		emit(path, x, y)
	}
}

// namedList reports whether every element is a map with a string name.
func namedList(l []any) bool {
	if len(l) == 0 {
		return false
	}
	return !slices.ContainsFunc(l, func(e any) bool {
		m, ok := e.(map[string]any)
		if !ok {
			return true
		}
		_, ok = m["name"].(string)
		return !ok
	})
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// MemoEntryFor returns the memo entry saying that applying desired onto live
// changes nothing: true of the object a server-side apply of desired just
// returned (applying the same configuration again is a no-op).
func MemoEntryFor(salt []byte, desired, live *unstructured.Unstructured, force bool) (MemoEntry, error) {
	dh, err := desiredHash(salt, desired, force)
	if err != nil {
		return MemoEntry{}, err
	}
	fp, err := fingerprint(salt, live)
	if err != nil {
		return MemoEntry{}, err
	}
	return MemoEntry{Desired: dh, Live: fp}, nil
}

// ObjectDiff compares two versions of one object (either may be nil) on all
// their fields but status and server bookkeeping, Secret values masked, for
// comparing recorded revisions. It returns the two views, masked, and the
// changed fields.
func ObjectDiff(before, after *unstructured.Unstructured) (*unstructured.Unstructured, *unstructured.Unstructured, []FieldDiff) {
	var b, a *unstructured.Unstructured
	secret := false
	if before != nil {
		b, secret = stripServerFields(before), object.RefOf(before).IsSecret()
	}
	if after != nil {
		a, secret = stripServerFields(after), object.RefOf(after).IsSecret()
	}
	diffs := fieldDiffs(b, a, secret)
	b, a = maskSecret(secret, b, a)
	return b, a, diffs
}

// DiffLines returns the unified YAML diff of two views, as the text plan
// shows a change.
func DiffLines(before, after *unstructured.Unstructured) []string {
	return diffLines(Change{Before: before, After: after})
}
