package object

import (
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// This file defines, once, what gantry must never show, log or store in
// plaintext: the sensitive fields of a Secret. Sealing (state), masking
// (Redacted, plan views and field diffs), error scrubbing (Scrubber) all
// ask SensitiveFields or IsSensitivePath; none keeps a list of its own.

// KappOriginal is kapp's copy of the whole applied object in an annotation,
// Secret data included (carvel-dev/kapp#137).
const KappOriginal = "kapp.k14s.io/original"

// Sealed values (state seals every sensitive field before it is stored)
// start with one of these: what was sealed was sensitive, and stays so.
const (
	SealedEncrypted = "gantry:aes256gcm:v1:"
	SealedHashed    = "gantry:hmac-sha256:"
)

// copyAnnotations are annotations in which deploy tools keep a copy of the
// whole object they applied: on a Secret, its data.
var copyAnnotations = []string{LastApplied, KappOriginal}

// SensitiveField is one field of a Secret that holds Secret content.
type SensitiveField struct {
	// Path is where the field is from the object's root, one element per
	// map key: ["data", KEY], ["stringData", KEY], ["metadata",
	// "annotations", NAME], or ["data"] when data is not a map at all.
	Path []string
	// Value is the field's value as the object holds it: a string in a
	// valid Secret, anything in an invalid one.
	Value any
}

// String returns the path joined by dots, as field diffs name fields.
func (f SensitiveField) String() string { return strings.Join(f.Path, ".") }

// InData reports whether the field is an entry of data, whose value is
// base64 of the Secret's bytes.
func (f SensitiveField) InData() bool { return len(f.Path) == 2 && f.Path[0] == "data" }

// SensitiveFields returns u's sensitive fields ordered by path: for a
// core/v1 Secret, SecretFields of its content; for any other object none.
func SensitiveFields(u *unstructured.Unstructured) []SensitiveField {
	if u == nil || !RefOf(u).IsSecret() {
		return nil
	}
	return SecretFields(u.Object)
}

// SecretFields returns the sensitive fields of obj read as a Secret, ordered
// by path: every entry of data and stringData (whatever its type; the field
// whole when it is not a map), every annotation in which a tool keeps a copy
// of the object (kubectl's last-applied-configuration, kapp's original),
// every other annotation whose value contains one of those values in a form
// a Scrubber removes, and every annotation that is sealed (IsSealed) or not
// a string. Callers that know the object is a Secret while
// its view lacks apiVersion and kind use it directly.
func SecretFields(obj map[string]any) []SensitiveField {
	var out []SensitiveField
	for _, field := range []string{"data", "stringData"} {
		v, ok := obj[field]
		if !ok || v == nil {
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			out = append(out, SensitiveField{Path: []string{field}, Value: v})
			continue
		}
		for _, k := range sortedKeys(m) {
			out = append(out, SensitiveField{Path: []string{field, k}, Value: m[k]})
		}
	}
	md, _ := obj["metadata"].(map[string]any)
	raw, ok := md["annotations"]
	if !ok || raw == nil {
		return out
	}
	ann, ok := raw.(map[string]any)
	if !ok {
		return append(out, SensitiveField{Path: []string{"metadata", "annotations"}, Value: raw})
	}
	values := newForms(plainValues(out, 0))
	for _, name := range sortedKeys(ann) {
		s, isString := ann[name].(string)
		if slices.Contains(copyAnnotations, name) || !isString || IsSealed(s) || values.foundIn(s) {
			out = append(out, SensitiveField{Path: []string{"metadata", "annotations", name}, Value: ann[name]})
		}
	}
	return out
}

// IsSealed reports whether a stored value is sealed.
func IsSealed(v string) bool {
	return strings.HasPrefix(v, SealedEncrypted) || strings.HasPrefix(v, SealedHashed)
}

// IsSensitivePath reports whether the field at path (map keys joined by
// dots, list elements as "[...]", as field diffs name them) of an object
// whose sensitive fields are fields holds Secret content: it is one of
// them, lies inside one, or encloses one (a map shown whole because it is
// not a map on one side of a diff).
func IsSensitivePath(fields []SensitiveField, path string) bool {
	for _, f := range fields {
		full := f.String()
		if path == full || strings.HasPrefix(path, full+".") || strings.HasPrefix(path, full+"[") {
			return true
		}
		for i := 1; i < len(f.Path); i++ {
			if path == strings.Join(f.Path[:i], ".") {
				return true
			}
		}
	}
	return false
}

// MapSensitive replaces, in place, the value of every sensitive field of u
// (a Secret; other objects are left alone) with f's result. The fields are
// found before any is replaced.
func MapSensitive(u *unstructured.Unstructured, f func(SensitiveField) any) {
	for _, field := range SensitiveFields(u) {
		SetField(u.Object, field.Path, f(field))
	}
}

// SetField sets the value at path in obj, whose maps along path exist (as
// they do for a path SecretFields returned).
func SetField(obj map[string]any, path []string, v any) {
	m := obj
	for _, k := range path[:len(path)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			return
		}
		m = next
	}
	m[path[len(path)-1]] = v
}

// GetField returns the value at path in obj, and whether it is there.
func GetField(obj map[string]any, path []string) (any, bool) {
	var cur any = obj
	for _, k := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
