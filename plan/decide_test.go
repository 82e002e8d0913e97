package plan

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gantryops/gantry/object"
)

// invalid is the server's Invalid error for a ConfigMap with errs.
func invalid(errs ...*field.Error) error {
	return apierrors.NewInvalid(schema.GroupKind{Kind: "ConfigMap"}, "imm", errs)
}

// TestImmutableCauses: a dry-run error makes a replace only when every one
// of its causes is an immutable field; with any other cause, the create
// after the delete would be refused too (before, one immutable cause among
// others was enough, and the object was deleted for good).
func TestImmutableCauses(t *testing.T) {
	t.Parallel()
	immutable := field.Forbidden(field.NewPath("data"), "field is immutable when `immutable` is set")
	badKey := field.Invalid(field.NewPath("data").Key("bad key!"), "bad key!", "a valid config key must consist of alphanumeric characters")
	clusterIP := field.Invalid(field.NewPath("spec", "clusterIP"), "10.0.0.2", "field is immutable")
	quoting := field.Invalid(field.NewPath("data").Key("x: field is immutable"), "x: field is immutable", "a valid config key must consist of alphanumeric characters")
	podSpec := field.Forbidden(field.NewPath("spec"), "pod updates may not change fields other than `spec.containers[*].image`\n  core.PodSpec{\n- \tx: field is immutable")
	sts := field.Forbidden(field.NewPath("spec"), "updates to statefulset spec for fields other than 'replicas' are forbidden")
	cases := []struct {
		name    string
		err     error
		fields  []string
		others  []string
		replace bool
	}{
		{"immutable data", invalid(immutable), []string{"data"}, nil, true},
		{"immutable fields only", invalid(clusterIP, sts), []string{"spec.clusterIP", "spec"}, nil, true},
		{"immutable and an invalid key", invalid(immutable, badKey), []string{"data"}, []string{"data[bad key!]"}, true},
		// The bad value is the author's: it may say anything, the phrase
		// included. Only the detail the server ends a cause with counts.
		{"an invalid key that says it is immutable", invalid(immutable, quoting), []string{"data"}, []string{"data[x: field is immutable]"}, true},
		{"a Forbidden cause of the server's own", invalid(podSpec), []string{"spec"}, nil, true},
		{"an invalid key only", invalid(badKey), nil, []string{"data[bad key!]"}, false},
		{"not Invalid", apierrors.NewConflict(schema.GroupResource{Resource: "configmaps"}, "imm", errors.New("field is immutable")), nil, nil, false},
		{"Invalid without causes", apierrors.NewInvalid(schema.GroupKind{Kind: "ConfigMap"}, "imm", nil), nil, nil, false},
		{"no error", nil, nil, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fields, others, ok := immutableCauses(tc.err)
			var otherFields []string
			for _, c := range others {
				otherFields = append(otherFields, c.Field)
			}
			if diff := cmp.Diff(tc.fields, fields); diff != "" {
				t.Errorf("immutable fields (-want +got)\n%s", diff)
			}
			if diff := cmp.Diff(tc.others, otherFields); diff != "" {
				t.Errorf("other causes (-want +got)\n%s", diff)
			}
			if ok != tc.replace {
				t.Errorf("ok = %v, want %v", ok, tc.replace)
			}
		})
	}
}

// TestNotReplaceable: the error names the object, the immutable fields and
// every other cause with what to do; for a Secret, the causes' messages
// (which may quote values) are withheld.
func TestNotReplaceable(t *testing.T) {
	t.Parallel()
	others := []metav1.StatusCause{{Type: metav1.CauseTypeFieldValueInvalid, Field: "data[bad key!]", Message: `Invalid value: "hunter2": a valid config key`}}
	cm := &desiredObject{ref: object.Ref{Kind: "ConfigMap", Namespace: "n", Name: "imm"}}
	got := notReplaceable(cm, []string{"data"}, others).Error()
	for _, want := range []string{"ConfigMap/n/imm", "data cannot be changed in place", "data[bad key!]: Invalid value", "fail to create it", "plan again"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q does not say %q", got, want)
		}
	}
	secret := &desiredObject{ref: object.Ref{Kind: "Secret", Namespace: "n", Name: "s"}, withheld: true}
	got = notReplaceable(secret, []string{"data"}, others).Error()
	if strings.Contains(got, "hunter2") || !strings.Contains(got, "data[bad key!] (FieldValueInvalid") {
		t.Errorf("the Secret's error: %q", got)
	}
}
