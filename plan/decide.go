package plan

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan/ssa"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// decide computes the change for one desired object, and says whose the
// live object is when it is not this stack's.
func (r *run) decide(ctx context.Context, d *desiredObject) (Change, error) {
	ch, err := r.change(ctx, d)
	live := r.live[d.ref]
	if err != nil || live == nil || ch.Action == ActionNoop {
		return ch, err
	}
	switch owner := live.GetLabels()[StackLabel]; {
	case owner != "" && owner != r.in.Stack:
		ch.Owner = owner
	case owner == "" && ch.Action == ActionUpdate && !r.inventory[d.ref]:
		ch.Action = ActionAdopt
		ch.Reason = "exists without the " + StackLabel + " label and was not applied by this stack: taken over"
	}
	return ch, nil
}

// change computes what applying one desired object does.
func (r *run) change(ctx context.Context, d *desiredObject) (Change, error) {
	ch := Change{Ref: d.ref, APIVersion: d.obj.GetAPIVersion()}
	live := r.live[d.ref]
	if live == nil && d.pending != "" {
		return r.pendingChange(ch, d), nil
	}
	var fp object.Hash
	dh, err := ssa.DesiredHash(r.in.Key, d.obj, r.in.Options.ForceConflicts)
	if err != nil {
		return ch, err
	}
	if live != nil {
		if fp, err = r.fingerprint(d.ref, live); err != nil {
			return ch, err
		}
		if m, ok := r.in.Memo[d.ref]; ok && r.in.Mode == DiffAuto && m.Desired == dh && m.Live == fp {
			r.memoHits.Add(1)
			ch.Action = ActionNoop
			return ch, nil
		}
	}
	result, conflicts, err := r.applyResult(ctx, d, live)
	if fields, others, ok := immutableCauses(err); ok && live != nil {
		return r.replaceChange(ch, d, live, fields, others)
	}
	if err != nil {
		return ch, describeServerError(d, err)
	}
	ch.Conflicts = conflicts
	if live == nil {
		return r.createChange(ch, d, dh, result)
	}
	return r.updateChange(ch, d, dh, fp, live, result)
}

// pendingChange is the creation of an object the server cannot check at
// plan time (its Namespace or CRD is made by the plan): verified at apply.
func (r *run) pendingChange(ch Change, d *desiredObject) Change {
	ch.Action, ch.VerifiedAtApply = ActionCreate, d.pending
	_, ch.After, ch.Diff = ssa.Masked(r.policy, d.ref, nil, ssa.StripServerFields(d.obj))
	return ch
}

// replaceChange is the replace of live, whose fields the server refused to
// change in place: every cause must be an immutable field, else the plan
// says what else the server refused.
func (r *run) replaceChange(ch Change, d *desiredObject, live *unstructured.Unstructured, fields []string, others []metav1.StatusCause) (Change, error) {
	if len(others) > 0 {
		return ch, notReplaceable(d, fields, others)
	}
	ch.Action = ActionReplace
	ch.Reason = fmt.Sprintf("%s cannot be changed in place (immutable)", strings.Join(fields, ", "))
	var err error
	before, err := ssa.OwnedView(live)
	if err != nil {
		return ch, err
	}
	ch.Before, ch.After, ch.Diff = ssa.Masked(r.policy, d.ref, before, ssa.StripServerFields(d.obj))
	return ch, nil
}

// createChange is the creation of an object not live, as the server would
// store it (result); drift when this very manifest was applied before
// (deleted out of band).
func (r *run) createChange(ch Change, d *desiredObject, dh object.Hash, result *unstructured.Unstructured) (Change, error) {
	ch.Action = ActionCreate
	if m, ok := r.in.Memo[d.ref]; ok && m.Desired == dh {
		ch.Drift = true
	}
	after, err := ssa.OwnedView(result)
	if err != nil {
		return ch, err
	}
	_, ch.After, ch.Diff = ssa.Masked(r.policy, d.ref, nil, after)
	return ch, nil
}

// updateChange compares live with what applying would make of it (result):
// no change (remembered in the memo when exact), or an update, drift when
// the desired object did not change while the live one did.
func (r *run) updateChange(ch Change, d *desiredObject, dh, fp object.Hash, live, result *unstructured.Unstructured) (Change, error) {
	cmp, err := ssa.Compare(live, result)
	if err != nil {
		return ch, err
	}
	if !cmp.Changed {
		ch.Action = ActionNoop
		if r.in.Mode != DiffLocal && len(ch.Conflicts) == 0 {
			r.remember(d.ref, MemoEntry{Desired: dh, Live: fp})
		}
		return ch, nil
	}
	ch.Action = ActionUpdate
	if m, ok := r.in.Memo[d.ref]; ok && m.Desired == dh && m.Live != fp {
		ch.Drift = true
	}
	ch.Before, ch.After, ch.Diff = ssa.Masked(r.policy, d.ref, cmp.Before, cmp.After)
	return ch, nil
}

// applyResult asks the server (or, for DiffLocal, the local predictor) what
// applying d onto live would store. It applies without force first, so that
// conflicts with other managers surface; then, to show what the apply would
// do once they are resolved, again with force.
func (r *run) applyResult(ctx context.Context, d *desiredObject, live *unstructured.Unstructured) (*unstructured.Unstructured, []Conflict, error) {
	apply := func(force bool) (*unstructured.Unstructured, error) {
		if r.in.Mode == DiffLocal {
			r.predictions.Add(1)
			return r.cluster.PredictApply(ctx, live, d.obj, force)
		}
		r.dryRuns.Add(1)
		return r.cluster.DryRunApply(ctx, d.res, d.obj, force)
	}
	result, err := apply(false)
	conflicts := conflictsOf(err)
	if conflicts == nil {
		return result, nil, err
	}
	result, err = apply(true)
	return result, conflicts, err
}

var conflictManager = regexp.MustCompile(`conflicts? with "([^"]+)"`)

// conflictsOf returns the field-manager conflicts an apply error reports.
func conflictsOf(err error) []Conflict {
	var se *apierrors.StatusError
	if !errors.As(err, &se) || !apierrors.IsConflict(err) || se.ErrStatus.Details == nil {
		return nil
	}
	var out []Conflict
	for _, c := range se.ErrStatus.Details.Causes {
		if c.Type != metav1.CauseTypeFieldManagerConflict {
			continue
		}
		m := conflictManager.FindStringSubmatch(c.Message)
		manager := c.Message
		if m != nil {
			manager = m[1]
		}
		out = append(out, Conflict{Field: c.Field, Manager: manager})
	}
	return out
}

// immutableDetails end the message of a cause saying a field cannot change
// (field.Invalid(path, value, detail) reads "Invalid value: VALUE: detail").
// The value before the detail is the object's author's, and may say
// anything: only the end of a message, which the server writes, counts.
var immutableDetails = []string{": field is immutable", ": field is immutable when `immutable` is set", ": may not change once set"}

// immutableForbidden start the message of a Forbidden cause saying fields
// cannot change: written by the server, with no value before them (a diff
// of the object may follow).
var immutableForbidden = []string{
	"Forbidden: field is immutable",
	"Forbidden: updates to statefulset spec for fields other than",
	"Forbidden: pod updates may not change fields other than",
	"Forbidden: spec is immutable after creation",
	"Forbidden: spec.persistentvolumesource is immutable after creation",
}

// isImmutable reports whether c says its field cannot change in place.
func isImmutable(c metav1.StatusCause) bool {
	if c.Type == metav1.CauseTypeForbidden {
		return slices.ContainsFunc(immutableForbidden, func(p string) bool { return strings.HasPrefix(c.Message, p) })
	}
	return slices.ContainsFunc(immutableDetails, func(d string) bool { return strings.HasSuffix(c.Message, d) })
}

// immutableCauses reads an Invalid error from a dry-run: the fields it says
// cannot change in place, and its other causes. ok is false unless some
// cause is an immutable field. A replace deletes the object and creates it
// again, so it is planned only when every cause is an immutable field: any
// other cause would refuse the create too, after the delete.
func immutableCauses(err error) (fields []string, others []metav1.StatusCause, ok bool) {
	var se *apierrors.StatusError
	if !errors.As(err, &se) || !apierrors.IsInvalid(err) || se.ErrStatus.Details == nil {
		return nil, nil, false
	}
	for _, c := range se.ErrStatus.Details.Causes {
		if isImmutable(c) {
			fields = append(fields, c.Field)
		} else {
			others = append(others, c)
		}
	}
	return fields, others, len(fields) > 0
}

// notReplaceable is the error for a change that would have to be replaced
// (fields) and that the server refuses for other causes as well: the
// replace would delete the object and fail to create it. The causes of an
// object that may hold sensitive content (a Secret, or a kind the stack
// declares sensitive fields of) are named by field and type only, as
// WithheldStatus does.
func notReplaceable(d *desiredObject, fields []string, others []metav1.StatusCause) error {
	causes := make([]string, len(others))
	for i, c := range others {
		causes[i] = fmt.Sprintf("%s: %s", c.Field, c.Message)
		if d.withheld {
			causes[i] = fmt.Sprintf("%s (%s; its message is withheld, as it may quote sensitive data)", c.Field, c.Type)
		}
	}
	return fmt.Errorf("%s: %s cannot be changed in place (immutable), but it cannot be replaced either: the server refuses the new object for other reasons too, so the replace would delete it and fail to create it again: %s; fix these in the source and plan again",
		d.ref, strings.Join(fields, ", "), strings.Join(causes, "; "))
}

// describeServerError names the object. For objects that may hold
// sensitive content (sensitive.Policy.Covers) only the error's code,
// reason and fields are kept: server messages may quote the invalid value,
// in forms (decoded, converted) no scrubber can be sure to know.
func describeServerError(d *desiredObject, err error) error {
	if apierrors.IsForbidden(err) && !d.withheld {
		// A dry-run is authorised like the write it rehearses.
		return fmt.Errorf("%s: %w: a server-side dry-run needs the rights the apply needs; with read-only credentials plan with --diff=local, and apply with credentials that may write", d.ref, err)
	}
	var se *apierrors.StatusError
	if !d.withheld || !errors.As(err, &se) {
		return fmt.Errorf("%s: %w", d.ref, err)
	}
	return fmt.Errorf("%s: %s", d.ref, WithheldStatus(se))
}

// WithheldStatus describes a server error about an object that may hold
// sensitive content without its message: the HTTP code, the reason and the fields (never their values).
func WithheldStatus(se *apierrors.StatusError) string {
	var fields []string
	if se.ErrStatus.Details != nil {
		for _, c := range se.ErrStatus.Details.Causes {
			fields = append(fields, fmt.Sprintf("%s (%s)", c.Field, c.Type))
		}
	}
	what := fmt.Sprintf("%d %s", se.ErrStatus.Code, se.ErrStatus.Reason)
	if len(fields) > 0 {
		what += ": " + strings.Join(fields, ", ")
	}
	return fmt.Sprintf("the server refused it (%s; its message is withheld, as it may quote sensitive data)", what)
}
