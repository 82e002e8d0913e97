package plan

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gantryops/gantry/object"
)

// FailureKind says why a change is known to fail. The values are stable:
// they appear in JSON.
type FailureKind string

// Failure kinds.
const (
	// FailureOwned: the live object belongs to another stack (its
	// gantry.dev/stack label); the apply refuses to take it.
	FailureOwned FailureKind = "owned"
	// FailureConflict: the change sets fields other field managers own, and
	// the plan does not force conflicts; the server refuses the apply.
	FailureConflict FailureKind = "conflict"
	// FailureNoManifest: a change that applies an object has no manifest
	// among the plan's desired objects (a damaged planfile or record).
	FailureNoManifest FailureKind = "no-manifest"
	// FailureInvalidManifest: a desired manifest is not an object gantry can
	// apply (object.Validate refuses it).
	FailureInvalidManifest FailureKind = "invalid-manifest"
	// FailureUnknownAction: a change's action is not one gantry knows.
	FailureUnknownAction FailureKind = "unknown-action"
	// FailureInvalidAPIVersion: a change's apiVersion is not a
	// group/version, so its object cannot be addressed.
	FailureInvalidAPIVersion FailureKind = "invalid-api-version"
)

// CannotApply is what every rendering of a plan with known failures says
// about applying it.
const CannotApply = "gantry apply refuses it before its first change, so that the other changes are not made without these (a half-applied revision):"

// KnownFailure is a change whose apply the plan already knows would fail.
type KnownFailure struct {
	// Kind is why it would fail.
	Kind FailureKind `json:"kind"`
	// Ref is the object.
	Ref ObjectRef `json:"ref"`
	// Reason says what would fail.
	Reason string `json:"reason"`
	// Fix says what to do so that the plan can be applied.
	Fix string `json:"fix"`
}

// String is the failure on one line: object, reason, fix.
func (f KnownFailure) String() string {
	return fmt.Sprintf("%s: %s: %s", f.Ref, f.Reason, f.Fix)
}

// KnownFailures returns, in the order of p.Changes, every change of p that
// applying p would fail on, as far as the plan itself tells: an object
// another stack owns, conflicts the plan does not force, a change without a
// valid manifest, an action or apiVersion gantry cannot carry out. The
// apply would make every other change first and leave the revision half
// applied, so apply.Check refuses a plan with any of them before its first
// write, and every rendering of the plan says it cannot be applied as it
// is. Pure: it reads nothing but p.
func KnownFailures(p *Plan) []KnownFailure {
	desired := make(map[ObjectRef]*unstructured.Unstructured, len(p.Desired))
	for _, u := range p.Desired {
		if u != nil {
			desired[object.RefOf(u)] = u
		}
	}
	var out []KnownFailure
	for _, c := range p.Changes {
		out = append(out, changeFailures(p, c, desired[c.Ref])...)
	}
	return out
}

// changeFailures returns what is known to fail in c, whose manifest is u
// (nil when the plan has none).
func changeFailures(p *Plan, c Change, u *unstructured.Unstructured) []KnownFailure {
	fail := func(kind FailureKind, reason, fix string) []KnownFailure {
		return []KnownFailure{{Kind: kind, Ref: c.Ref, Reason: reason, Fix: fix}}
	}
	switch c.Action {
	case ActionNoop:
		return nil
	case ActionCreate, ActionUpdate, ActionAdopt, ActionReplace, ActionDelete:
	default:
		return fail(FailureUnknownAction, fmt.Sprintf("its action %q is not one this gantry knows (a planfile of another version?)", c.Action),
			"plan again with this version of gantry")
	}
	if _, err := schema.ParseGroupVersion(c.APIVersion); err != nil || c.APIVersion == "" {
		return fail(FailureInvalidAPIVersion, fmt.Sprintf("its apiVersion %q is not a group/version", c.APIVersion), "plan again")
	}
	if c.Action == ActionDelete {
		return nil
	}
	var out []KnownFailure
	if u == nil {
		out = fail(FailureNoManifest, "the plan holds no manifest for it (the planfile or the record is damaged)", "plan again")
	} else if err := object.Validate(u); err != nil {
		out = fail(FailureInvalidManifest, fmt.Sprintf("its manifest is not an object gantry can apply: %v", err), "fix it in the source and plan again")
	}
	if c.Owner != "" {
		out = append(out, KnownFailure{Kind: FailureOwned, Ref: c.Ref,
			Reason: fmt.Sprintf("it belongs to stack %q (its %s label), not %q", c.Owner, StackLabel, p.Stack),
			Fix: fmt.Sprintf("remove it from one of the two stacks; or, to move it to %q on purpose, relabel it (kubectl label --overwrite %s %s=%s) and plan again",
				p.Stack, kubectlName(c.Ref), StackLabel, p.Stack)})
	}
	if len(c.Conflicts) > 0 && !p.Options.ForceConflicts {
		parts := make([]string, len(c.Conflicts))
		for i, f := range c.Conflicts {
			parts[i] = fmt.Sprintf("%s (owned by %q)", f.Field, f.Manager)
		}
		out = append(out, KnownFailure{Kind: FailureConflict, Ref: c.Ref,
			Reason: "it sets fields other field managers own: " + strings.Join(parts, ", "),
			Fix:    "set forceConflicts: true on the stack (or --force-conflicts) to take them over, or give them up in Git"})
	}
	return out
}

// kubectlName is how kubectl names ref: "configmap/a -n shop",
// "deployment.apps/web -n shop", "namespace/shop".
func kubectlName(ref ObjectRef) string {
	s := strings.ToLower(ref.Kind)
	if ref.Group != "" {
		s += "." + ref.Group
	}
	s += "/" + ref.Name
	if ref.Namespace != "" {
		s += " -n " + ref.Namespace
	}
	return s
}
