// Package objtest reads objects for tests: below plan and plan/ssa, so that
// their own tests (which cannot import plan/plantest) share it.
package objtest

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// Parse reads one object from YAML.
func Parse(t testing.TB, s string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(s), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

// Bomb is a 400-byte YAML document whose aliases expand to 9^9 (387
// million) scalars ("billion laughs"), each line indented by indent.
func Bomb(indent string) string {
	var b strings.Builder
	b.WriteString(indent + "a: &a [x,x,x,x,x,x,x,x,x]\n")
	for i, name := range "bcdefghi" {
		prev := string("abcdefgh"[i])
		b.WriteString(indent + string(name) + ": &" + string(name) + " [" + strings.TrimSuffix(strings.Repeat("*"+prev+",", 9), ",") + "]\n")
	}
	return b.String()
}
