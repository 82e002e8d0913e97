package sensitive

import (
	"fmt"
	"strings"

	"github.com/gantryops/gantry/object"
)

// Rule declares fields of some objects sensitive (a stack's `sensitive:`
// in gantry.yaml): every object of Kind in Group, or only those named Name,
// in any namespace. It is recorded with each plan (plan.Options), so a
// planfile and a recorded plan are masked, scrubbed and sealed by the rules
// they were computed under.
type Rule struct {
	// Group is the API group; "" is the core group.
	Group string `json:"group,omitempty"`
	// Kind is the object kind, e.g. ConfigMap.
	Kind string `json:"kind"`
	// Name limits the rule to objects of that name; empty: all of them.
	Name string `json:"name,omitempty"`
	// Fields are paths of map keys from the object's root, joined by dots:
	// "data.password"; "*" stands for every key at its level ("data.*");
	// a key holding dots or brackets is written in brackets with quotes:
	// data['app.properties']. A map at the end is sensitive in every leaf.
	// Paths do not enter lists.
	Fields []string `json:"fields"`
}

// Matches reports whether the rule names the object ref.
func (r Rule) Matches(ref object.Ref) bool {
	return r.Group == ref.Group && r.Kind == ref.Kind && (r.Name == "" || r.Name == ref.Name)
}

// Check reports what is wrong with the rule, for gantry.yaml's errors.
func (r Rule) Check() error {
	if r.Kind == "" {
		return fmt.Errorf("kind is required")
	}
	if len(r.Fields) == 0 {
		return fmt.Errorf("fields must list at least one field (e.g. data.password)")
	}
	for _, f := range r.Fields {
		if _, err := ParsePath(f); err != nil {
			return fmt.Errorf("field %q: %w", f, err)
		}
	}
	return nil
}

// paths returns the rule's fields parsed; Check has refused those that do
// not parse, so any left are skipped.
func (r Rule) paths() [][]string {
	out := make([][]string, 0, len(r.Fields))
	for _, f := range r.Fields {
		if p, err := ParsePath(f); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// ParsePath reads a declared field: keys joined by dots, a key in
// ['…'] or ["…"] when it holds dots, "*" for every key at its level.
func ParsePath(s string) ([]string, error) {
	var out []string
	for rest := s; rest != ""; {
		var key string
		switch {
		case strings.HasPrefix(rest, "['") || strings.HasPrefix(rest, `["`):
			end := strings.Index(rest[2:], rest[1:2]+"]")
			if end < 0 {
				return nil, fmt.Errorf("an unclosed %s", rest[:2])
			}
			key, rest = rest[2:2+end], rest[2+end+2:]
		default:
			end := strings.IndexAny(rest, ".[")
			if end < 0 {
				end = len(rest)
			}
			key, rest = rest[:end], rest[end:]
		}
		if key == "" {
			return nil, fmt.Errorf("an empty key: write keys joined by dots, e.g. data.password")
		}
		out = append(out, key)
		if after, ok := strings.CutPrefix(rest, "."); ok {
			if rest = after; rest == "" {
				return nil, fmt.Errorf("a trailing dot")
			}
		} else if rest != "" && rest[0] != '[' {
			return nil, fmt.Errorf("expected . or [ after %q", key)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("an empty path")
	}
	return out, nil
}

// CheckStrings refuses a field declared sensitive that holds something
// other than a string (or null): sealing keeps strings only, and a value
// of another type would be stored as it is. Secrets are checked where they
// are sealed.
func (p Policy) CheckStrings(ref object.Ref, obj map[string]any) error {
	for _, r := range p.Rules {
		if !r.Matches(ref) {
			continue
		}
		var fields []Field
		for _, path := range r.paths() {
			declared(obj, path, nil, &fields)
		}
		for _, f := range fields {
			if _, ok := f.Value.(string); !ok && f.Value != nil {
				return fmt.Errorf("%s: %s is declared sensitive (gantry.yaml, sensitive:) but holds %s: gantry seals sensitive values as strings; quote the value, or declare only fields that hold strings",
					ref, f, typeOf(f.Value))
			}
		}
	}
	return nil
}

// typeOf names the type of v and nothing of its value.
func typeOf(v any) string {
	switch v.(type) {
	case bool:
		return "a boolean"
	case int64, float64, int:
		return "a number"
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	}
	return fmt.Sprintf("a %T", v)
}
