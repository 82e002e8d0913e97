package apply

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gantryops/gantry/internal/crash"
	"github.com/gantryops/gantry/object"
)

// waitReady waits until the applied objects of items are Current by kstatus
// (the readiness rules kubectl, Flux and cli-utils share), polling with one
// LIST per resource and namespace, until Timeout. Each outcome gets its last
// status. A Failed status ends the wait for that object at once.
func (a *Applier) waitReady(ctx context.Context, r *Report, items []item, quiet bool) error {
	pending, err := a.notReady(r, items)
	if err != nil || len(pending) == 0 {
		return err
	}
	if !quiet {
		a.emit(Event{Kind: EventWaiting, Message: fmt.Sprintf("%d object(s) to become ready (timeout %s)", len(pending), a.opts.Timeout)})
	}
	deadline := time.Now().Add(a.opts.Timeout)
	for len(pending) > 0 && !time.Now().After(deadline) {
		select {
		case <-ctx.Done():
			r.Interrupted = true
			return fmt.Errorf("apply interrupted while waiting for readiness: %w", ctx.Err())
		case <-time.After(a.opts.PollInterval):
		}
		if err := a.poll(ctx, r, pending, quiet); err != nil {
			return err
		}
	}
	var bad []string
	for _, it := range items {
		o := r.Outcomes[it.index]
		if o.Live != nil && o.Ready != string(status.CurrentStatus) {
			bad = append(bad, fmt.Sprintf("%s is %s", o.Ref, o.Ready))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w after %s, prune skipped: %s", ErrNotReady, a.opts.Timeout, strings.Join(bad, ", "))
	}
	return nil
}

// watched is an applied object the wait polls: its outcome and resource.
type watched struct {
	index int
	res   object.Resource
}

// notReady sets each applied item's readiness from the object the apply
// returned, and returns those not Current yet.
func (a *Applier) notReady(r *Report, items []item) (map[object.Ref]watched, error) {
	pending := map[object.Ref]watched{}
	for _, it := range items {
		o := &r.Outcomes[it.index]
		if o.Live == nil {
			continue
		}
		st := computeStatus(o.Live)
		o.Ready = st
		if st != string(status.CurrentStatus) {
			res, err := a.cluster.Resource(o.Live.GroupVersionKind())
			if err != nil {
				return nil, err
			}
			pending[object.RefOf(o.Live)] = watched{it.index, res} // a generated hook's by the name it was given
		}
	}
	return pending, nil
}

// poll lists the pending objects, one LIST per resource and namespace,
// records their readiness and removes those Current or Failed.
func (a *Applier) poll(ctx context.Context, r *Report, pending map[object.Ref]watched, quiet bool) error {
	targets := map[[2]string][]object.Ref{}
	resources := map[[2]string]object.Resource{}
	for ref, w := range pending {
		k := [2]string{w.res.GVR.String(), ref.Namespace}
		targets[k] = append(targets[k], ref)
		resources[k] = w.res
	}
	for k, refs := range targets {
		objs, err := a.cluster.List(ctx, resources[k], k[1])
		if ctx.Err() != nil {
			r.Interrupted = true
			return fmt.Errorf("apply interrupted while waiting for readiness: %w", ctx.Err())
		}
		if err != nil {
			return err
		}
		byRef := map[object.Ref]*unstructured.Unstructured{}
		for _, u := range objs {
			byRef[object.RefOf(u)] = u
		}
		for _, ref := range refs {
			st := string(status.NotFoundStatus)
			if u := byRef[ref]; u != nil {
				st = computeStatus(u)
			}
			r.Outcomes[pending[ref].index].Ready = st
			if st == string(status.CurrentStatus) || st == string(status.FailedStatus) {
				if !quiet {
					kind := EventReady
					if st == string(status.FailedStatus) {
						kind = EventNotReady
					}
					a.emit(Event{Kind: kind, Ref: ref, Message: st})
				}
				delete(pending, ref)
			}
		}
	}
	return nil
}

// computeStatus is u's kstatus, Unknown when kstatus cannot tell. kstatus
// reads status with unchecked type assertions in places (a Pod's
// containerStatuses), and status is written by controllers, not by the
// server's schema for custom resources: a panic there is Unknown too, not
// the end of the process.
func computeStatus(u *unstructured.Unstructured) string {
	var res *status.Result
	err := crash.Catch(func() error {
		var err error
		res, err = status.Compute(u)
		return err
	})
	if err != nil || res == nil {
		return string(status.UnknownStatus)
	}
	return string(res.Status)
}

func schemaGroupVersion(apiVersion string) (schema.GroupVersion, error) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return gv, fmt.Errorf("apiVersion %q: %w", apiVersion, err)
	}
	return gv, nil
}
