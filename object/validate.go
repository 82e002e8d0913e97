package object

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// HookAnnotation marks a hook object (Helm's, honoured in any source):
// the planner runs it in a phase of its own (plan.HookSpecOf).
const HookAnnotation = "helm.sh/hook"

// Validate reports what keeps u from being an object gantry can manage:
// what CheckTypes reports, a missing apiVersion, kind or metadata.name
// (generateName only for hooks, which are created anew at each run and
// never tracked by name), and
// names, labels and annotations no API server accepts (checkNames).
func Validate(u *unstructured.Unstructured) error {
	if err := CheckTypes(u); err != nil {
		return err
	}
	var missing []string
	if u.GetAPIVersion() == "" {
		missing = append(missing, "apiVersion")
	}
	if u.GetKind() == "" {
		missing = append(missing, "kind")
	}
	if u.GetName() == "" && u.GetGenerateName() == "" {
		missing = append(missing, "metadata.name")
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	if u.GetName() == "" {
		if _, hook := u.GetAnnotations()[HookAnnotation]; !hook {
			return fmt.Errorf("metadata.generateName is supported for hooks only (%s): gantry needs a stable metadata.name to track the object", HookAnnotation)
		}
		if msg := generateNameProblem(u.GetGenerateName()); msg != "" {
			return fmt.Errorf("metadata.generateName %s: %s", quoted(u.GetGenerateName()), msg)
		}
	}
	if errs := checkNames(u); len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// CheckTypes refuses, as the API server and kubectl do, an object whose
// fields gantry reads hold values of the wrong type: apiVersion and kind
// must be strings (apiVersion a group/version), metadata must be what
// metav1.ObjectMeta decodes, field by field (names strings, labels and
// annotations maps of strings, integers, times, owner references and
// managed-field entries of the right shape, no unknown fields), and a
// Secret's data and stringData and a ConfigMap's data and binaryData maps
// of strings. It costs a few microseconds: the planner checks every live
// object it reads.
//
// Without it the getters of unstructured.Unstructured would read such an
// object silently wrong: GetLabels returns nil for labels holding one
// number, so every label would be dropped.
func CheckTypes(u *unstructured.Unstructured) error {
	if u == nil {
		return errors.New("no object (null)")
	}
	var errs []string
	for _, f := range []string{"apiVersion", "kind"} {
		if v, ok := u.Object[f]; ok {
			if _, isString := v.(string); !isString {
				errs = append(errs, mustBeString(f, v))
			}
		}
	}
	if v, ok := u.Object["apiVersion"].(string); ok && v != "" {
		if _, err := schema.ParseGroupVersion(v); err != nil {
			errs = append(errs, fmt.Sprintf("apiVersion %q is not a group/version (e.g. apps/v1, or v1 for the core group)", v))
		}
	}
	if md, ok := u.Object["metadata"]; ok {
		errs = append(errs, checkMetadata(md)...)
	}
	errs = append(errs, checkData(u)...)
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// metadataFields are the fields of metav1.ObjectMeta, by their JSON names.
var metadataFields = []string{
	"name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
	"creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
	"labels", "annotations", "ownerReferences", "finalizers", "managedFields",
}

// checkMetadata reports the problems of metadata, each naming its path.
func checkMetadata(v any) []string {
	md, ok := v.(map[string]any)
	if !ok {
		if v == nil {
			return nil
		}
		return []string{fmt.Sprintf("metadata must be a mapping, found %s", Describe(v))}
	}
	var errs []string
	for _, k := range keysWhere(md, func(k string, _ any) bool { return !slices.Contains(metadataFields, k) }) {
		errs = append(errs, fmt.Sprintf("metadata.%s: unknown field (the API server would drop it; kubectl refuses it): check its spelling", k))
	}
	for _, f := range []string{"name", "generateName", "namespace", "selfLink", "uid", "resourceVersion"} {
		if x, ok := md[f]; ok && x != nil {
			if _, isString := x.(string); !isString {
				errs = append(errs, mustBeString("metadata."+f, x))
			}
		}
	}
	errs = append(errs, checkStringMap("metadata.labels", md["labels"])...)
	errs = append(errs, checkStringMap("metadata.annotations", md["annotations"])...)
	errs = append(errs, checkStringList("metadata.finalizers", md["finalizers"])...)
	errs = append(errs, checkOwnerReferences(md["ownerReferences"])...)
	errs = append(errs, checkInteger("metadata.generation", md["generation"])...)
	errs = append(errs, checkInteger("metadata.deletionGracePeriodSeconds", md["deletionGracePeriodSeconds"])...)
	errs = append(errs, checkTime("metadata.creationTimestamp", md["creationTimestamp"])...)
	errs = append(errs, checkTime("metadata.deletionTimestamp", md["deletionTimestamp"])...)
	return append(errs, checkManagedFields(md["managedFields"])...)
}

// checkInteger reports a value at path that is not an integer (or null).
func checkInteger(path string, v any) []string {
	switch t := v.(type) {
	case nil, int64, int:
		return nil
	case float64:
		if t == math.Trunc(t) {
			return nil
		}
	}
	return []string{fmt.Sprintf("%s must be an integer, found %s", path, Describe(v))}
}

// checkTime reports a value at path that is not an RFC 3339 time (or null),
// as metav1.Time decodes it.
func checkTime(path string, v any) []string {
	if v == nil {
		return nil
	}
	s, ok := v.(string)
	if !ok {
		return []string{fmt.Sprintf("%s must be a time (RFC 3339, e.g. 2026-01-02T15:04:05Z), found %s", path, Describe(v))}
	}
	if s == "" {
		return nil
	}
	if _, err := time.Parse(time.RFC3339, s); err != nil {
		return []string{fmt.Sprintf("%s must be a time (RFC 3339, e.g. 2026-01-02T15:04:05Z), found %q", path, s)}
	}
	return nil
}

// checkManagedFields reports entries of metadata.managedFields that do not
// decode as metav1.ManagedFieldsEntry.
func checkManagedFields(v any) []string {
	if v == nil {
		return nil
	}
	l, ok := v.([]any)
	if !ok {
		return []string{fmt.Sprintf("metadata.managedFields must be a list, found %s", Describe(v))}
	}
	var errs []string
	for i, x := range l {
		// The path is made only for an error: live objects are checked on
		// every plan, and nearly all are fine.
		path := func(f string) string { return fmt.Sprintf("metadata.managedFields[%d]%s", i, f) }
		m, ok := x.(map[string]any)
		if !ok {
			errs = append(errs, fmt.Sprintf("%s must be a mapping, found %s", path(""), Describe(x)))
			continue
		}
		for _, f := range []string{"manager", "operation", "apiVersion", "fieldsType", "subresource"} {
			if y, ok := m[f]; ok && y != nil {
				if _, isString := y.(string); !isString {
					errs = append(errs, mustBeString(path("."+f), y))
				}
			}
		}
		if t := checkTime("", m["time"]); t != nil {
			errs = append(errs, checkTime(path(".time"), m["time"])...)
		}
		if y, ok := m["fieldsV1"]; ok && y != nil {
			if _, isMap := y.(map[string]any); !isMap {
				errs = append(errs, fmt.Sprintf("%s must be a mapping, found %s", path(".fieldsV1"), Describe(y)))
			}
		}
	}
	return errs
}

// checkStringMap reports the entries of the map at path that are not
// strings; a missing or null map is fine.
func checkStringMap(path string, v any) []string {
	if v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return []string{fmt.Sprintf("%s must be a mapping of strings, found %s", path, Describe(v))}
	}
	var errs []string
	for _, k := range keysWhere(m, func(_ string, v any) bool { _, isString := v.(string); return !isString }) {
		errs = append(errs, mustBeString(path+"."+k, m[k]))
	}
	return errs
}

// checkStringList reports a list at path holding anything but strings.
func checkStringList(path string, v any) []string {
	if v == nil {
		return nil
	}
	l, ok := v.([]any)
	if !ok {
		return []string{fmt.Sprintf("%s must be a list of strings, found %s", path, Describe(v))}
	}
	var errs []string
	for i, x := range l {
		if _, isString := x.(string); !isString {
			errs = append(errs, mustBeString(fmt.Sprintf("%s[%d]", path, i), x))
		}
	}
	return errs
}

func checkOwnerReferences(v any) []string {
	if v == nil {
		return nil
	}
	l, ok := v.([]any)
	if !ok {
		return []string{fmt.Sprintf("metadata.ownerReferences must be a list, found %s", Describe(v))}
	}
	var errs []string
	for i, x := range l {
		path := fmt.Sprintf("metadata.ownerReferences[%d]", i)
		m, ok := x.(map[string]any)
		if !ok {
			errs = append(errs, fmt.Sprintf("%s must be a mapping, found %s", path, Describe(x)))
			continue
		}
		for _, f := range []string{"apiVersion", "kind", "name", "uid"} {
			if y, ok := m[f]; ok {
				if _, isString := y.(string); !isString {
					errs = append(errs, mustBeString(path+"."+f, y))
				}
			}
		}
		for _, f := range []string{"controller", "blockOwnerDeletion"} {
			if y, ok := m[f]; ok && y != nil {
				if _, isBool := y.(bool); !isBool {
					errs = append(errs, fmt.Sprintf("%s.%s must be true or false, found %s", path, f, Describe(y)))
				}
			}
		}
	}
	return errs
}

// checkData checks the maps of strings of core Secrets and ConfigMaps: the
// plan masks a Secret's values by walking them, and a value of another type
// must be refused, never shown or dropped.
func checkData(u *unstructured.Unstructured) []string {
	apiVersion, _ := u.Object["apiVersion"].(string)
	kind, _ := u.Object["kind"].(string)
	if apiVersion != "v1" {
		return nil
	}
	var fields []string
	switch kind {
	case "Secret":
		fields = []string{"data", "stringData"}
	case "ConfigMap":
		fields = []string{"data", "binaryData"}
	}
	var errs []string
	for _, f := range fields {
		errs = append(errs, checkStringMap(f, u.Object[f])...)
	}
	return errs
}

// mustBeString says that the value at path must be a string, and how to
// make it one.
func mustBeString(path string, v any) string {
	switch v.(type) {
	case nil:
		return fmt.Sprintf("%s has no value (null): give it a string; write \"\" for an empty one", path)
	case bool:
		return fmt.Sprintf("%s must be a string, found %s: quote the value (YAML reads unquoted true, false, yes, no, on and off as booleans)", path, Describe(v))
	case int64, float64, int:
		return fmt.Sprintf("%s must be a string, found %s: quote the value, e.g. \"%v\"", path, Describe(v), v)
	}
	return fmt.Sprintf("%s must be a string, found %s", path, Describe(v))
}

// Describe names the kind of a value decoded from YAML or JSON, for error
// messages: "the number 2", "the boolean true", "a mapping", "a list".
func Describe(v any) string {
	switch t := v.(type) {
	case nil:
		return "nothing (null)"
	case bool:
		return fmt.Sprintf("the boolean %t", t)
	case int64, float64, int:
		return fmt.Sprintf("the number %v", t)
	case string:
		return "a string"
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	}
	return fmt.Sprintf("a %T", v)
}

// keysWhere returns the keys of m whose entries match, sorted (so that
// errors come in a stable order); nil, without allocating, when none do.
func keysWhere(m map[string]any, match func(string, any) bool) []string {
	var keys []string
	for k, v := range m {
		if match(k, v) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}
