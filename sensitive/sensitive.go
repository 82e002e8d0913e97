// Package sensitive decides, in one place, what gantry must never show, log
// or store in plaintext, and carries it out: the content of a Secret (data
// and stringData), the annotations in which deploy tools keep a copy of an
// object (kubectl's last-applied-configuration, kapp's original) or that
// quote a sensitive value, any field a stack declares sensitive in
// gantry.yaml (a Policy of Rules), and every value already sealed. Masking
// (Redacted, Mask: plan views, field diffs, history, `gantry render`),
// sealing before storage (state/seal asks Fields), and the scrubbing of
// error text (Scrubber) all ask a Policy; none keeps a list of its own.
package sensitive

import (
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/object"
)

// Value replaces every sensitive value gantry shows or logs.
const Value = "(sensitive value)"

// Changed marks a sensitive value that changes (Terraform users know it as
// "(sensitive value)"); unchanged ones read Value.
const Changed = "(sensitive value changed)"

// Sealed values (state seals every sensitive field before it is stored)
// start with one of these: what was sealed was sensitive, and stays so.
const (
	SealedEncrypted = "gantry:aes256gcm:v1:"
	SealedHashed    = "gantry:hmac-sha256:"
)

// IsSealed reports whether a stored value is sealed.
func IsSealed(v string) bool {
	return strings.HasPrefix(v, SealedEncrypted) || strings.HasPrefix(v, SealedHashed)
}

// copyAnnotations are annotations in which deploy tools keep a copy of the
// whole object they applied, sensitive values included.
var copyAnnotations = []string{object.LastApplied, object.KappOriginal}

// Field is one field of an object that holds sensitive content.
type Field struct {
	// Path is where the field is from the object's root, one element per
	// map key: ["data", KEY] of a Secret, ["metadata", "annotations",
	// NAME], a declared field's keys, or ["data"] when a Secret's data is
	// not a map at all.
	Path []string
	// Value is the field's value as the object holds it: a string in a
	// valid object, anything in an invalid one.
	Value any
	// Base64 marks an entry of a Secret's data, whose value is base64 of
	// the bytes it stands for.
	Base64 bool
}

// String returns the path joined by dots, as field diffs name fields.
func (f Field) String() string { return strings.Join(f.Path, ".") }

// Policy is what is sensitive for one stack: always a Secret's content,
// every sealed value and the annotations that copy or quote sensitive
// values; also the fields its Rules declare. The zero Policy is the rule
// for records whose stack declared nothing, or is not known (a sealed value
// is still found by its prefix).
type Policy struct {
	Rules []Rule
}

// Of returns the policy of rules.
func Of(rules []Rule) Policy { return Policy{Rules: rules} }

// Covers reports whether objects ref names may hold sensitive content by
// the policy's definition (a Secret, or an object a rule names): the
// server's messages about them are withheld, as they may quote values.
func (p Policy) Covers(ref object.Ref) bool {
	return ref.IsSecret() || slices.ContainsFunc(p.Rules, func(r Rule) bool { return r.Matches(ref) })
}

// Fields returns u's sensitive fields (nil for nil).
func (p Policy) Fields(u *unstructured.Unstructured) []Field {
	if u == nil {
		return nil
	}
	return p.FieldsOf(object.RefOf(u), u.Object)
}

// FieldsOf returns the sensitive fields of obj, the content (or a view) of
// the object ref names: content fields first (a Secret's data and
// stringData, declared fields, sealed values, each group by path), then
// the annotations that copy or quote them, by name. For a Secret the
// annotations are examined even when it holds no content; an annotation
// that is sealed, or is not a string, is sensitive there.
func (p Policy) FieldsOf(ref object.Ref, obj map[string]any) []Field {
	var out []Field
	if ref.IsSecret() {
		out = secretContent(obj)
	}
	for _, r := range p.Rules {
		if r.Matches(ref) {
			for _, path := range r.paths() {
				declared(obj, path, nil, &out)
			}
		}
	}
	sealedValues(obj, nil, &out)
	out = dedupe(out)
	if len(out) == 0 && !ref.IsSecret() {
		return nil
	}
	return append(out, annotations(obj, out, ref.IsSecret())...)
}

// secretContent returns every entry of a Secret's data and stringData
// (whatever its type; the field whole when it is not a map).
func secretContent(obj map[string]any) []Field {
	var out []Field
	for _, field := range []string{"data", "stringData"} {
		v, ok := obj[field]
		if !ok || v == nil {
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			out = append(out, Field{Path: []string{field}, Value: v})
			continue
		}
		for _, k := range sortedKeys(m) {
			out = append(out, Field{Path: []string{field, k}, Value: m[k], Base64: field == "data"})
		}
	}
	return out
}

// declared adds the fields at path under v (reached by at): a "*" element
// matches every key; a map found at the end is sensitive in every leaf.
// Paths through lists, or absent, match nothing.
func declared(v any, path, at []string, out *[]Field) {
	if len(path) == 0 {
		leaves(v, at, out)
		return
	}
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	if path[0] != "*" {
		if x, ok := m[path[0]]; ok {
			declared(x, path[1:], append(slices.Clone(at), path[0]), out)
		}
		return
	}
	for _, k := range sortedKeys(m) {
		declared(m[k], path[1:], append(slices.Clone(at), k), out)
	}
}

func leaves(v any, at []string, out *[]Field) {
	if m, ok := v.(map[string]any); ok && len(m) > 0 {
		for _, k := range sortedKeys(m) {
			leaves(m[k], append(slices.Clone(at), k), out)
		}
		return
	}
	*out = append(*out, Field{Path: at, Value: v})
}

// sealedValues adds every string reached through maps that reads as
// sealed: what was sealed when stored stays sensitive wherever it is, so a
// record needs no policy to be opened or shown.
func sealedValues(v any, at []string, out *[]Field) {
	switch t := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(t) {
			sealedValues(t[k], append(slices.Clone(at), k), out)
		}
	case string:
		if IsSealed(t) && len(at) > 0 {
			*out = append(*out, Field{Path: at, Value: t})
		}
	}
}

// annotations returns the annotations of obj that are sensitive given its
// sensitive content fields: copies of the object, annotations quoting one
// of the values in a form a Scrubber removes, and (for a Secret) those
// sealed or not strings, or all of them when they are not a map.
func annotations(obj map[string]any, content []Field, secret bool) []Field {
	md, _ := obj["metadata"].(map[string]any)
	raw, ok := md["annotations"]
	if !ok || raw == nil {
		return nil
	}
	ann, ok := raw.(map[string]any)
	if !ok {
		if !secret {
			return nil
		}
		return []Field{{Path: []string{"metadata", "annotations"}, Value: raw}}
	}
	values := newForms(plainValues(Policy{}, object.Ref{}, content, maxCopyDepth))
	var out []Field
	for _, name := range sortedKeys(ann) {
		path := []string{"metadata", "annotations", name}
		if slices.ContainsFunc(content, func(f Field) bool { return slices.Equal(f.Path, path) }) {
			continue // a sealed annotation, already listed
		}
		s, isString := ann[name].(string)
		if slices.Contains(copyAnnotations, name) || (secret && !isString) || values.foundIn(s) {
			out = append(out, Field{Path: path, Value: ann[name]})
		}
	}
	return out
}

// dedupe keeps the first field of each path, in order.
func dedupe(fields []Field) []Field {
	seen := map[string]bool{}
	out := fields[:0]
	for _, f := range fields {
		if k := strings.Join(f.Path, "\x00"); !seen[k] {
			seen[k] = true
			out = append(out, f)
		}
	}
	return out
}

// IsPath reports whether the field at path (map keys joined by dots, list
// elements as "[...]", as field diffs name them) of an object whose
// sensitive fields are fields holds sensitive content: it is one of them,
// lies inside one, or encloses one (a map shown whole because it is not a
// map on one side of a diff).
func IsPath(fields []Field, path string) bool {
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

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
