package sensitive

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/gantryops/gantry/object"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Scrubber removes the sensitive values of some objects from text, in every
// form in which gantry or a library it calls could print them: as written,
// Go- and JSON-quoted, cut where gantry's error messages cut a quoted
// value, hex (lower and upper case), base64 (standard and URL alphabets,
// padded or not, and the part of it that does not depend on
// what surrounds the value, at each of the three byte offsets), the bytes
// a data entry's base64 decodes to in all the same forms, numbers and
// other non-string values as Go and JSON print them, and the values inside
// copies of the object kept in annotations. Every error that can carry a
// Secret's content passes through one before it is shown, logged or stored.
type Scrubber struct {
	forms    forms
	replacer *strings.Replacer
}

// Scrubber returns a Scrubber for the sensitive values of objs (nil
// contributes nothing).
func (p Policy) Scrubber(objs ...*unstructured.Unstructured) *Scrubber {
	var values []string
	for _, u := range objs {
		if u == nil {
			continue
		}
		ref := object.RefOf(u)
		values = append(values, plainValues(p, ref, p.FieldsOf(ref, u.Object), 0)...)
	}
	return newScrubber(newForms(values))
}

// NewValueScrubber returns a Scrubber for values given as plain bytes (the
// literals and files a kustomize secretGenerator makes a Secret of).
func NewValueScrubber(values ...string) *Scrubber {
	return newScrubber(newForms(values))
}

func newScrubber(f forms) *Scrubber {
	pairs := make([]string, 0, 2*len(f))
	for _, form := range f {
		pairs = append(pairs, form, Value)
	}
	return &Scrubber{forms: f, replacer: strings.NewReplacer(pairs...)}
}

// Scrub returns text with every form of every sensitive value replaced by
// Value, in one pass (longest forms first).
func (s *Scrubber) Scrub(text string) string {
	if len(s.forms) == 0 {
		return text
	}
	return s.replacer.Replace(text)
}

// Error returns err when its text holds no sensitive value, else an error
// whose text is scrubbed. The scrubbed error still answers errors.Is for
// the errors err wraps (a sentinel such as context.Canceled), but errors.As
// cannot reach them: their text is what had to be removed.
func (s *Scrubber) Error(err error) error {
	if err == nil || !s.forms.foundIn(err.Error()) {
		return err
	}
	return &scrubbedError{msg: s.Scrub(err.Error()), err: err}
}

// SecretValues returns the plain values of the sensitive fields of obj
// read as a Secret, those a Scrubber of it would remove: for callers that
// gather values from several sources into one NewValueScrubber.
func SecretValues(obj map[string]any) []string {
	secret := object.Ref{Kind: "Secret"}
	return plainValues(Policy{}, secret, Policy{}.FieldsOf(secret, obj), 0)
}

// ScrubError is p.Scrubber(objs...).Error(err).
func (p Policy) ScrubError(err error, objs ...*unstructured.Unstructured) error {
	if err == nil {
		return nil
	}
	return p.Scrubber(objs...).Error(err)
}

type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }

// Is lets errors.Is see through to the wrapped error without exposing it.
func (e *scrubbedError) Is(target error) bool { return errors.Is(e.err, target) }

// forms are the printed forms of some sensitive values, longest first.
type forms []string

// maxCopyDepth bounds how deep copies of an object inside annotations of
// the copy are followed.
const maxCopyDepth = 4

// newForms returns the printed forms of plain values.
func newForms(plain []string) forms {
	seen := map[string]bool{}
	for _, raw := range plain {
		for _, form := range encodings(raw) {
			if form != "" {
				seen[form] = true
			}
		}
	}
	out := make(forms, 0, len(seen))
	for form := range seen {
		out = append(out, form)
	}
	sort.Slice(out, func(i, j int) bool {
		if len(out[i]) != len(out[j]) {
			return len(out[i]) > len(out[j])
		}
		return out[i] < out[j]
	})
	return out
}

// foundIn reports whether text contains any of the forms.
func (f forms) foundIn(text string) bool {
	for _, form := range f {
		if strings.Contains(text, form) {
			return true
		}
	}
	return false
}

// plainValues returns the byte strings the fields' values stand for: each
// value as printed, the bytes a Secret's data entry decodes to, and, for a
// copy of the object (ref) in an annotation, the values of the copy's own
// sensitive fields under p.
func plainValues(p Policy, ref object.Ref, fields []Field, depth int) []string {
	var out []string
	for _, f := range fields {
		out = append(out, printed(f.Value)...)
		s, ok := f.Value.(string)
		if !ok {
			continue
		}
		if f.Base64 {
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding} {
				if b, err := enc.DecodeString(s); err == nil {
					out = append(out, string(b))
				}
			}
		}
		var copied map[string]any
		if depth < maxCopyDepth && len(f.Path) == 3 && json.Unmarshal([]byte(s), &copied) == nil {
			out = append(out, plainValues(p, ref, p.FieldsOf(ref, copied), depth+1)...)
		}
	}
	return out
}

// printed returns how a value prints: a string as itself; a number, bool
// or anything else as Go's %v and JSON print it, and the leaves of maps and
// lists one by one.
func printed(v any) []string {
	switch t := v.(type) {
	case nil:
		return nil
	case string:
		return []string{t}
	case map[string]any:
		var out []string
		for _, k := range sortedKeys(t) {
			out = append(out, printed(t[k])...)
		}
		return out
	case []any:
		var out []string
		for _, e := range t {
			out = append(out, printed(e)...)
		}
		return out
	case float64:
		return []string{fmt.Sprint(t), strconv.FormatFloat(t, 'f', -1, 64), strconv.FormatFloat(t, 'g', -1, 64)}
	}
	out := []string{fmt.Sprint(v)}
	if b, err := json.Marshal(v); err == nil {
		out = append(out, string(b))
	}
	return out
}

// base64Encodings are the alphabets and paddings a value may be encoded in.
var base64Encodings = []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding}

// encodings returns the forms in which raw may be printed.
func encodings(raw string) []string {
	if raw == "" {
		return nil
	}
	out := []string{raw, hex.EncodeToString([]byte(raw)), strings.ToUpper(hex.EncodeToString([]byte(raw)))}
	if q := strconv.Quote(raw); q[1:len(q)-1] != raw {
		out = append(out, q[1:len(q)-1])
	}
	if j, err := json.Marshal(raw); err == nil && string(j[1:len(j)-1]) != raw {
		out = append(out, string(j[1:len(j)-1]))
	}
	for _, enc := range base64Encodings {
		out = append(out, enc.EncodeToString([]byte(raw)))
	}
	if len(raw) > object.QuotedLimit { // the part an error message quotes (quoted)
		cut := strings.ToValidUTF8(raw[:object.QuotedLimit], "")
		q := strconv.Quote(cut)
		out = append(out, cut, q[1:len(q)-1])
	}
	return append(out, base64Cores(raw)...)
}

// base64Cores returns, for each byte offset modulo 3 at which raw may sit
// inside a longer string that is base64-encoded, the characters of the
// encoding that depend on raw's bytes alone (whole 3-byte groups), in both
// alphabets; cores shorter than 4 characters are left out.
func base64Cores(raw string) []string {
	var out []string
	for offset := range 3 {
		lead := (3 - offset) % 3 // bytes of raw that complete the group it starts in
		if len(raw) < lead+3 {
			continue
		}
		whole := (len(raw) - lead) / 3 * 3
		for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
			out = append(out, enc.EncodeToString([]byte(raw[lead:lead+whole])))
		}
	}
	return out
}
