package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/source"
)

// ancestry is how a plan's commit relates to the last commit applied.
type ancestry string

const (
	// ancestrySame: the same commit (drift, or the cluster moved).
	ancestrySame ancestry = "same"
	// ancestryDescendant: the new commit comes after the last one.
	ancestryDescendant ancestry = "descendant"
	// ancestryAncestor: the new commit is older: the branch went back.
	ancestryAncestor ancestry = "ancestor"
	// ancestryUnrelated: neither descends from the other: the history was
	// rewritten (or the last commit is gone from the repository).
	ancestryUnrelated ancestry = "unrelated"
)

// relate turns the two answers of Git's ancestry check into an ancestry.
func relate(lastBeforeCommit, commitBeforeLast bool) ancestry {
	switch {
	case lastBeforeCommit && commitBeforeLast:
		return ancestrySame
	case lastBeforeCommit:
		return ancestryDescendant
	case commitBeforeLast:
		return ancestryAncestor
	}
	return ancestryUnrelated
}

// rollbackReason decides the rollback rule for a stack that verifies
// signatures: applying commit after last (the commit of the last succeeded
// apply, "" when none) needs a person when it goes back — to an older
// commit, or to one of a rewritten history — since signing proves who made
// a commit, not that it is the newest: a pusher who cannot sign could
// otherwise force-push the branch back to an old signed commit (a
// downgrade to a known-vulnerable release). It returns why the plan needs
// a person, or "" when it does not.
func rollbackReason(last, commit string, rel ancestry) string {
	if last == "" || last == commit {
		return ""
	}
	switch rel {
	case ancestrySame, ancestryDescendant:
		return ""
	case ancestryAncestor:
		return fmt.Sprintf("commit %s is older than commit %s, the last commit applied (it is one of its ancestors): going back needs a person's approval, whatever the approval policy", object.ShortSHA(commit), object.ShortSHA(last))
	}
	return fmt.Sprintf("commit %s does not descend from commit %s, the last commit applied (the history was rewritten): applying it needs a person's approval, whatever the approval policy", object.ShortSHA(commit), object.ShortSHA(last))
}

// rollback applies the rollback rule to p, a plan of a stack that
// verifies signatures (p.Options.VerifiedSource; not a restore), and
// returns why p needs a person, or "". It compares p's commit with the
// last commit applied as the record says now, not with the plan's
// BaseCommit: a plan saved before a later apply, or a planfile edited to
// drop its Rollback, is judged as it would be applied.
func (e *Engine) rollback(ctx context.Context, p *plan.Plan) (string, error) {
	if !p.Options.VerifiedSource || p.RestoredFrom != "" {
		return "", nil
	}
	last, err := e.store.LiveCommit(ctx, p.Stack)
	if err != nil {
		return "", err
	}
	if last == "" || last == p.Source.Commit {
		return "", nil
	}
	rel, err := e.ancestry(ctx, p.Source.Repo, last, p.Source.Commit)
	if err != nil {
		return "", fmt.Errorf("stack %s: how commit %s relates to %s, the last commit applied, cannot be told: %w", p.Stack, object.ShortSHA(p.Source.Commit), object.ShortSHA(last), err)
	}
	return rollbackReason(last, p.Source.Commit, rel), nil
}

// ancestry asks Git how commit relates to last in repo. A last commit gone
// from the repository (and the cache) was rewritten away: unrelated.
func (e *Engine) ancestry(ctx context.Context, repo, last, commit string) (ancestry, error) {
	if last == commit {
		return ancestrySame, nil
	}
	if _, err := e.fetcher.Fetch(ctx, repo, last); errors.Is(err, source.ErrRefNotFound) {
		return ancestryUnrelated, nil
	} else if err != nil {
		return "", err
	}
	forward, err := e.fetcher.IsAncestor(ctx, repo, last, commit)
	if err != nil {
		return "", err
	}
	if forward {
		// Moving forward, the usual case, walks only the new commits; the
		// walk back from last (its whole history, when unrelated) is not
		// needed: two different commits cannot both come first.
		return relate(true, false), nil
	}
	back, err := e.fetcher.IsAncestor(ctx, repo, commit, last)
	if err != nil {
		return "", err
	}
	return relate(false, back), nil
}
