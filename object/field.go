package object

import (
	"fmt"
	"strings"
)

// Field returns the value at path in obj, and whether it is there. A value
// on the way that is not a mapping is an error naming its path and what it
// is, never a silent "absent": gantry reads content written by others, and
// a field of the wrong type must be refused, not skipped.
func Field(obj map[string]any, path ...string) (any, bool, error) {
	var cur any = obj
	for i, f := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			if cur == nil {
				return nil, false, nil
			}
			return nil, false, fmt.Errorf("%s must be a mapping, found %s", strings.Join(path[:i], "."), Describe(cur))
		}
		if cur, ok = m[f]; !ok {
			return nil, false, nil
		}
	}
	return cur, true, nil
}

// StringField returns the string at path in obj, "" when it is absent or
// null; any other value is an error naming its path.
func StringField(obj map[string]any, path ...string) (string, error) {
	v, _, err := Field(obj, path...)
	if err != nil || v == nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s must be a string, found %s", strings.Join(path, "."), Describe(v))
	}
	return s, nil
}

// ListField returns the list at path in obj, nil when it is absent or
// null; any other value is an error naming its path. The list is obj's own,
// not a copy.
func ListField(obj map[string]any, path ...string) ([]any, error) {
	v, _, err := Field(obj, path...)
	if err != nil || v == nil {
		return nil, err
	}
	l, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s must be a list, found %s", strings.Join(path, "."), Describe(v))
	}
	return l, nil
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
