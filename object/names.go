package object

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"k8s.io/apimachinery/pkg/api/validate/content"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// checkNames refuses, as every API server does for every kind, identities
// and metadata no object can have: a kind or apiVersion that is not a
// name a CustomResourceDefinition may define, a namespace that is not a
// DNS label, a name that is not a path segment or holds control or
// bidirectional characters, label and annotation keys and values the
// server's ObjectMeta validation refuses, annotations over 256 KiB. It
// runs on desired objects only (live ones passed the server's own), after
// CheckTypes. Such objects come from Git alone: refused here, they can
// neither reach a plan unrefused in --diff=local, where no server checks
// them, nor print control sequences to the terminal of whoever reads it.
// generateNameProblem says what is wrong with a generateName prefix: the
// server appends five characters, and the result must be a name.
func generateNameProblem(prefix string) string {
	msgs := content.IsPathSegmentName(prefix)
	if hasControl(prefix) {
		msgs = append(msgs, "must not contain control or bidirectional characters")
	}
	if len(prefix) > 253-5 {
		msgs = append(msgs, "must be at most 248 characters (the server adds 5)")
	}
	return strings.Join(msgs, "; ")
}

func checkNames(u interface {
	GetAPIVersion() string
	GetKind() string
	GetNamespace() string
	GetName() string
	GetLabels() map[string]string
	GetAnnotations() map[string]string
}) []string {
	var errs []string
	if kind := u.GetKind(); kind != "" {
		if msgs := validation.IsDNS1035Label(strings.ToLower(kind)); len(msgs) > 0 {
			errs = append(errs, fmt.Sprintf("kind %s is not a kind name (letters and digits, starting with a letter)", quoted(kind)))
		}
	}
	if gv, err := schema.ParseGroupVersion(u.GetAPIVersion()); err == nil && u.GetAPIVersion() != "" {
		bad := gv.Group != "" && len(validation.IsDNS1123Subdomain(gv.Group)) > 0 || len(validation.IsDNS1035Label(gv.Version)) > 0
		if bad {
			errs = append(errs, fmt.Sprintf("apiVersion %s is not a group/version (the group a DNS name, the version like v1 or v1beta1)", quoted(u.GetAPIVersion())))
		}
	}
	if ns := u.GetNamespace(); ns != "" {
		if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
			errs = append(errs, fmt.Sprintf("metadata.namespace %s: %s", quoted(ns), strings.Join(msgs, "; ")))
		}
	}
	if name := u.GetName(); name != "" {
		msgs := content.IsPathSegmentName(name)
		if hasControl(name) {
			msgs = append(msgs, "must not contain control or bidirectional characters")
		}
		if len(msgs) > 0 {
			errs = append(errs, fmt.Sprintf("metadata.name %s: %s", quoted(name), strings.Join(msgs, "; ")))
		}
	}
	for _, e := range metav1validation.ValidateLabels(u.GetLabels(), field.NewPath("metadata", "labels")) {
		errs = append(errs, describeFieldError(e))
	}
	for _, e := range apivalidation.ValidateAnnotations(u.GetAnnotations(), field.NewPath("metadata", "annotations")) {
		errs = append(errs, describeFieldError(e))
	}
	return errs
}

// describeFieldError words a field error of apimachinery's validation with
// the bad value quoted so that it prints as text: the value comes from the
// repository and may hold anything. (An annotation's value is never shown:
// only the total size of them all is limited.)
func describeFieldError(e *field.Error) string {
	switch e.Type {
	case field.ErrorTypeTooLong:
		return fmt.Sprintf("%s: the annotations take more than %d bytes in all, which the API server refuses", e.Field, apivalidation.TotalAnnotationSizeLimitB)
	case field.ErrorTypeInvalid:
		if s, ok := e.BadValue.(string); ok {
			return fmt.Sprintf("%s %s: %s", e.Field, quoted(s), e.Detail)
		}
	}
	return fmt.Sprintf("%s: %s", e.Field, e.Detail)
}

// QuotedLimit is where quoted cuts a value; a Scrubber removes that part
// of a sensitive value too.
const QuotedLimit = 100

// quoted returns s in double quotes with every control, bidirectional or
// non-printable character escaped, cut after QuotedLimit bytes: safe to
// print in an error message whatever the repository wrote.
func quoted(s string) string {
	cut := ""
	if len(s) > QuotedLimit {
		s, cut = strings.ToValidUTF8(s[:QuotedLimit], ""), "…"
	}
	return strconv.Quote(s) + cut
}

// hasControl reports whether s holds a control character or one that
// changes the direction of the text around it.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
	})
}
