package plan

import (
	"reflect"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/object"
)

// SensitiveChanged marks a Secret value that changes (Terraform users know
// it as "(sensitive value)"); unchanged ones read object.SensitiveValue.
const SensitiveChanged = "(sensitive value changed)"

// maskSecret replaces the values under data and stringData of a Secret's
// before and after views: every value reads object.SensitiveValue, except
// values of after that differ from before, which read SensitiveChanged. Keys
// stay, so a reader sees which ones change and nothing else. For other
// objects it returns its arguments.
func maskSecret(secret bool, before, after *unstructured.Unstructured) (*unstructured.Unstructured, *unstructured.Unstructured) {
	if !secret {
		return before, after
	}
	var mb, ma *unstructured.Unstructured
	if before != nil {
		mb = object.Redacted(before)
	}
	if after != nil {
		ma = object.Redacted(after)
		if before == nil {
			return mb, ma // a new Secret: nothing to compare with
		}
		for _, field := range []string{"data", "stringData"} {
			av, _ := after.Object[field].(map[string]any)
			masked, _ := ma.Object[field].(map[string]any)
			bv, _ := before.Object[field].(map[string]any)
			for k := range av {
				if old, ok := bv[k]; !ok || !reflect.DeepEqual(old, av[k]) {
					masked[k] = SensitiveChanged
				}
			}
		}
	}
	return mb, ma
}
