package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/plan/planfile"
	"github.com/gantryops/gantry/source"
	"github.com/gantryops/gantry/source/artifact"
	"github.com/gantryops/gantry/stack"
	"github.com/gantryops/gantry/state"
)

// RestoreRequest asks for a plan that restores a stack to a recorded revision.
type RestoreRequest struct {
	// Stack names the stack (as recorded in the database).
	Stack   string
	Cluster Target
	// To names the revision (number or ID); else At picks the one live then.
	To string
	At time.Time
	// Actor is who asks (recorded in the audit log).
	Actor string
	// Repo overrides the repository Secrets stored as salted hashes are
	// rendered again from (default: the one the revision was planned from).
	Repo string
	// AllowRemoteBases lets that render fetch remote kustomize bases.
	AllowRemoteBases bool
}

// RestorePlan is a restore plan with what it restores.
type RestorePlan struct {
	// Plan restores Revision; apply it as any plan.
	Plan *plan.Plan
	// Revision is the revision restored.
	Revision state.RevisionInfo
	// AppliedAt is when the apply that made Revision live finished.
	AppliedAt time.Time
}

// Restore plans the stack back to a revision recorded in Postgres: the one
// named, or the one live at a moment (the last succeeded apply finished by
// then). The objects come from the database alone, and so does the stack's
// definition: the namespace, prune policy and source recorded with the plan
// that applied the revision. Git is needed only for Secrets stored without
// GANTRY_SECRET_KEY, which are rendered again from their commit and verified
// against their stored hashes. The plan is a normal plan (objects created
// since are pruned, objects deleted since recreated) and goes through the
// same gate and apply; applied, it holds the stack.
func (e *Engine) Restore(ctx context.Context, req RestoreRequest) (*RestorePlan, error) {
	var info *state.RevisionInfo
	var err error
	switch {
	case req.To != "" && !req.At.IsZero():
		return nil, errors.New("restore to a revision (--to) or to a moment (--at), not both")
	case req.To != "":
		info, err = e.store.ResolveRevision(ctx, req.Stack, req.To)
	case !req.At.IsZero():
		if now := e.now(); req.At.After(now) {
			return nil, fmt.Errorf("%s is in the future (it is %s now): restore takes a moment that has passed", req.At.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		}
		info, _, err = e.store.LiveRevisionAt(ctx, req.Stack, req.At)
	default:
		return nil, errors.New("say what to restore: --to REVISION or --at TIME")
	}
	if err != nil {
		return nil, err
	}
	applied, appliedAt, err := e.appliedPlan(ctx, req.Stack, info, req.At)
	if err != nil {
		return nil, err
	}
	s := definitionOf(req.Stack, applied)
	if req.Repo != "" {
		s.Source.Repo = req.Repo
	}
	s.Source.AllowRemoteBases = req.AllowRemoteBases
	rev, err := e.store.Revision(ctx, info.ID)
	if errors.Is(err, state.ErrSecretNotRecoverable) {
		rev, err = e.proveSecrets(ctx, s, info)
	}
	if err != nil {
		return nil, err
	}
	src := plan.Source{Repo: s.Source.Repo, Ref: fmt.Sprintf("revision %d", info.Number), Commit: rev.Commit, Path: s.Source.Path}
	if c := s.Source.Chart; c != nil {
		src = plan.Source{Kind: plan.SourceHelmRepository, Repo: c.Repository, Ref: src.Ref, Commit: rev.Commit, Path: c.Name, Version: c.Version}
	}
	if a := s.Source.Artifact; a != nil {
		src = plan.Source{Kind: plan.SourceOCIArtifact, Repo: a.URL, Ref: src.Ref, Commit: rev.Commit, Path: s.Source.Path, MediaType: a.MediaType}
	}
	p, err := e.planRevision(ctx, PlanRequest{Stack: s, Cluster: req.Cluster, Actor: req.Actor}, src, rev.Objects, info.ID)
	if err != nil {
		return nil, err
	}
	return &RestorePlan{Plan: p, Revision: *info, AppliedAt: appliedAt}, nil
}

// appliedPlan returns the recorded plan whose succeeded apply made the
// revision live (the last one finished by at, when at is set), and when that
// apply finished. A revision never applied successfully was never live:
// refused.
func (e *Engine) appliedPlan(ctx context.Context, stack string, info *state.RevisionInfo, at time.Time) (*plan.Plan, time.Time, error) {
	planID, finished, err := e.store.LastApplyOf(ctx, info.ID, at)
	if errors.Is(err, state.ErrNotFound) {
		return nil, time.Time{}, fmt.Errorf("revision %d of stack %s was never applied successfully, so it was never live: restore takes a revision from gantry history %s", info.Number, stack, stack)
	}
	if err != nil {
		return nil, time.Time{}, err
	}
	rec, err := e.store.PlanBody(ctx, planID)
	if err != nil {
		return nil, time.Time{}, err
	}
	p, err := planfile.UnmarshalRecorded(rec.Body)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("plan %s that applied revision %d: %w", planID, info.Number, err)
	}
	return p, finished, nil
}

// definitionOf rebuilds the stack's definition as the plan that applied a
// revision recorded it: restore does not need gantry.yaml.
func definitionOf(name string, p *plan.Plan) stack.Stack {
	var chart *stack.Chart
	var art *stack.Artifact
	switch p.Source.Kind {
	case plan.SourceHelmRepository:
		chart = &stack.Chart{Repository: p.Source.Repo, Name: p.Source.Path, Version: p.Source.Version}
	case plan.SourceOCIArtifact:
		art = &stack.Artifact{URL: p.Source.Repo, Digest: "sha256:" + p.Source.Commit, MediaType: p.Source.MediaType}
	}
	return stack.Stack{
		Name:            name,
		Source:          stack.Source{Repo: p.Source.Repo, Ref: p.Source.Commit, Path: p.Source.Path},
		Target:          stack.Target{Namespace: p.Options.Namespace},
		Prune:           p.Options.Prune,
		MaxPrunePercent: p.Options.MaxPrunePercent,
		AllowEmpty:      p.Options.AllowEmpty,
		ForceConflicts:  p.Options.ForceConflicts,
		Sensitive:       p.Options.Sensitive,
	}.WithChart(chart).WithArtifact(art)
}

// proveSecrets loads a revision whose Secrets were stored as salted hashes by
// rendering their commit again from Git and checking every value against its
// hash. When Git cannot provide it, the error names the Secrets and says how
// to proceed; nothing is planned.
func (e *Engine) proveSecrets(ctx context.Context, s stack.Stack, info *state.RevisionInfo) (*state.Revision, error) {
	candidates, gitErr := e.rerender(ctx, s, info.Commit)
	if gitErr == nil {
		rev, err := e.store.RevisionWithProof(ctx, info.ID, candidates)
		if err == nil {
			return rev, nil
		}
		gitErr = err
	}
	refs, err := e.store.HashedSecrets(ctx, info.ID)
	if err != nil {
		return nil, errors.Join(gitErr, err)
	}
	names := make([]string, len(refs))
	for i, r := range refs {
		names[i] = r.String()
	}
	return nil, fmt.Errorf("revision %d of %s holds Secrets stored as salted hashes only (GANTRY_SECRET_KEY was not set when it was recorded): %s\nTo restore them gantry renders commit %s of %s again and checks every value against its hash, and that failed: %v\nMake that commit reachable again (restore --repo if the repository moved), or restore a revision recorded while GANTRY_SECRET_KEY was set; nothing was applied",
		info.Number, s.Name, strings.Join(names, ", "), object.ShortSHA(info.Commit), s.Source.Repo, gitErr)
}

// rerender renders the stack's path at commit and defaults namespaces as
// planning does, keyed by ref, for proving Secrets.
func (e *Engine) rerender(ctx context.Context, s stack.Stack, commit string) (map[object.Ref]*unstructured.Unstructured, error) {
	if s.Source.Chart != nil {
		return nil, fmt.Errorf("its Secrets were stored as salted hashes (no GANTRY_SECRET_KEY then), and proving them would render chart %s %s again: set GANTRY_SECRET_KEY before storing to restore charts from the record alone", s.Source.Chart.Name, s.Source.Chart.Version)
	}
	var c *source.Commit
	var err error
	if a := s.Source.Artifact; a != nil {
		c, err = e.pullArtifact(ctx, *a, commit)
	} else if s.Source.Repo == "" {
		return nil, errors.New("the plan that applied the revision recorded no repository: name it with restore --repo")
	} else {
		c, err = e.fetcher.Fetch(ctx, s.Source.Repo, commit)
	}
	if err != nil {
		return nil, err
	}
	opts := renderOptions(s)
	var fetched []string
	opts.Dependencies = e.dependencies(s, &fetched)
	rev, err := c.Render(ctx, s.Source.Path, opts)
	if err != nil {
		return nil, err
	}
	out := map[object.Ref]*unstructured.Unstructured{}
	for _, u := range rev.Objects {
		ref := object.RefOf(u)
		if ref.IsSecret() && ref.Namespace == "" {
			ref.Namespace = s.Target.Namespace
		}
		out[ref] = u
	}
	return out, nil
}

// pullArtifact gives the artifact a names (its URL and layer media type)
// at digest (hex): from the store, or the registry.
func (e *Engine) pullArtifact(ctx context.Context, a stack.Artifact, digest string) (*source.Commit, error) {
	if e.arts == nil {
		return nil, fmt.Errorf("artifact %s: this engine fetches no OCI artifacts", a.URL)
	}
	pinned := stack.Artifact{URL: a.URL, Digest: "sha256:" + digest, MediaType: a.MediaType}
	return e.arts.Pull(ctx, &artifact.Artifact{Artifact: pinned, Digest: digest})
}

// ErrHeld refuses applying Git over a restore until a newer commit or resume.
var ErrHeld = errors.New("stack is held after a restore")

// heldAgainst returns why applying p would be refused because the stack is
// held (wrapping ErrHeld), or nil when it is not held or p's commit is newer
// than the one held against. When whether it is newer cannot be told (Git
// unreachable), p is refused too.
func (e *Engine) heldAgainst(ctx context.Context, p *plan.Plan) error {
	hold, err := e.store.HoldOf(ctx, p.Stack)
	if err != nil {
		return err
	}
	if hold == nil {
		return nil
	}
	newer, err := e.newerThan(ctx, p.Source, hold.AgainstCommit)
	if err != nil {
		return fmt.Errorf("%w: stack %s is held at revision %d since %s, and whether commit %s is newer than %s cannot be told: %v; run `gantry resume %s` to apply Git again",
			ErrHeld, p.Stack, hold.Revision.Number, hold.Since.UTC().Format(time.RFC3339), object.ShortSHA(p.Source.Commit), object.ShortSHA(hold.AgainstCommit), err, p.Stack)
	}
	if newer {
		return nil
	}
	which := fmt.Sprintf("is an ancestor of %s, the commit the restore replaced", object.ShortSHA(hold.AgainstCommit))
	if p.Source.Commit == hold.AgainstCommit {
		which = "is the commit the restore replaced"
	}
	return fmt.Errorf("%w: stack %s is held since %s at revision %d (a restore of revision %d, by %s), and commit %s %s, so applying it would undo the restore; push a newer commit, or run `gantry resume %s` to apply Git again",
		ErrHeld, p.Stack, hold.Since.UTC().Format(time.RFC3339), hold.Revision.Number, hold.Revision.RestoredFromNumber, hold.By,
		object.ShortSHA(p.Source.Commit), which, p.Stack)
}

// newerThan reports whether commit src.Commit is newer than against: not
// against itself nor one of its ancestors (a rewritten history counts as
// newer). With nothing to compare against, nothing is newer.
func (e *Engine) newerThan(ctx context.Context, src plan.Source, against string) (bool, error) {
	if against == "" || src.Commit == against {
		return false, nil
	}
	if src.Kind == plan.SourceHelmRepository || src.Kind == plan.SourceOCIArtifact {
		return true, nil // a chart or an artifact has no history: another digest is newer
	}
	if _, err := e.fetcher.Fetch(ctx, src.Repo, against); errors.Is(err, source.ErrRefNotFound) {
		// The commit held against is gone from the repository (its history
		// was rewritten, or the stack moved to another one): whatever the
		// ref points at now was pushed since.
		return true, nil
	}
	ancestor, err := e.fetcher.IsAncestor(ctx, src.Repo, src.Commit, against)
	if err != nil {
		return false, err
	}
	return !ancestor, nil
}
