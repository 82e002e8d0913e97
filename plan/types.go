package plan

import (
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan/ssa"
	"github.com/gantryops/gantry/sensitive"
)

// ObjectRef identifies an object version-free: group, kind, namespace, name.
type ObjectRef = object.Ref

// FormatVersion is the version of the plan's serialised form (planfiles and
// JSON output). Readers refuse versions they do not know.
const FormatVersion = 1

// Action is what applying the plan does to one object. The values are stable:
// they are stored and appear in JSON.
type Action string

// Actions.
const (
	// ActionCreate creates an object that does not exist.
	ActionCreate Action = "create"
	// ActionUpdate changes an existing object in place (server-side apply).
	ActionUpdate Action = "update"
	// ActionDelete deletes (prunes) an object the stack applied before and
	// no longer renders.
	ActionDelete Action = "delete"
	// ActionReplace deletes and recreates an object because a field that
	// changes is immutable.
	ActionReplace Action = "replace"
	// ActionNoop leaves the object as it is.
	ActionNoop Action = "noop"
	// ActionAdopt takes over an object that exists without gantry's stack
	// label and that the stack never applied: applied in place like an
	// update, labelled for the stack, and from then on in its inventory
	// (pruned when no longer rendered). Never silent: it shows as its own
	// action.
	ActionAdopt Action = "adopt"
)

// DiffMode is how the planner finds out what an apply would change.
type DiffMode string

// Diff modes.
const (
	// DiffAuto uses the no-op memo and dry-runs the rest: exact and cheap.
	DiffAuto DiffMode = "auto"
	// DiffServer dry-runs every object and ignores the memo: the reference.
	DiffServer DiffMode = "server"
	// DiffLocal predicts applies without the server (structured-merge-diff on
	// managed fields and the OpenAPI schema): read-only credentials suffice,
	// and the result is approximate.
	DiffLocal DiffMode = "local"
)

// Plan is the computed change from the live cluster to a revision. It is
// immutable once computed: everything that applies it (and checks that it is
// still valid) is in it.
type Plan struct {
	// FormatVersion is FormatVersion when written.
	FormatVersion int `json:"format_version"`
	// ID is a client-generated UUID.
	ID string `json:"id"`
	// Stack names the stack.
	Stack string `json:"stack"`
	// Source is where Desired came from.
	Source Source `json:"source"`
	// Cluster is the API server's URL.
	Cluster string `json:"cluster"`
	// CreatedAt is when planning started.
	CreatedAt time.Time `json:"created_at"`
	// Mode is the diff mode used; DiffLocal plans are Approximate.
	Mode DiffMode `json:"mode"`
	// Approximate is true when the server did not verify the changes. It
	// mirrors Mode for readers of the JSON and is not part of the digest:
	// what gantry decides, it decides from Mode (IsApproximate).
	Approximate bool `json:"approximate,omitempty"`
	// Options are the stack policies the plan was computed with.
	Options Options `json:"options"`
	// Desired are the manifests to apply, prepared: namespaces defaulted and
	// the stack label set. Sorted by ref. Secret data is in here unmasked.
	Desired []*unstructured.Unstructured `json:"desired"`
	// Base is, for every object the plan touches or checked, its live
	// identity when planned. Applying a plan whose base moved is refused.
	Base []Base `json:"base"`
	// InventoryGeneration is the stack inventory's generation when planned.
	InventoryGeneration int64 `json:"inventory_generation"`
	// Changes has one entry per desired object and per inventory object no
	// longer desired, sorted by ref; noops included.
	Changes []Change `json:"changes"`
	// Destructive lists why the plan needs a person's approval; empty when
	// it does not.
	Destructive []string `json:"destructive,omitempty"`
	// RestoredFrom is set for a restore: the ID of the recorded revision whose
	// objects Desired are. Part of the digest: a restore is not held back by
	// the stack's hold and sets one when applied.
	RestoredFrom string `json:"restored_from,omitempty"`
	// Digest is the keyed hash (see Digest) over everything above except
	// ID, CreatedAt and Approximate: two plans with the same digest do the
	// same thing. docs/plan.md lists how an apply treats each field.
	Digest string `json:"digest"`
	// Held explains that the stack is held after a restore and this plan's
	// commit is not newer than the one held against: applying it is refused.
	// Not part of the digest (it is the stack's state, not the plan's).
	Held string `json:"held,omitempty"`
	// Rollback explains that the plan's commit goes back from the last
	// commit applied (older, or of a rewritten history) on a stack that
	// verifies signatures: it needs a person's approval, whatever the
	// stack's approval policy. Not part of the digest (it is decided
	// against the stack's record, as Held is).
	Rollback string `json:"rollback,omitempty"`
	// BaseCommit is the commit of the revision live when the plan was made
	// (the last succeeded apply's), empty when nothing was applied yet: with
	// Source.Commit it says "base → head". Not part of the digest.
	BaseCommit string `json:"base_commit,omitempty"`
	// Stats says what planning cost. Not part of the digest.
	Stats Stats `json:"stats"`
}

// Source is the revision a plan was computed from.
type Source struct {
	// Kind is "" for a Git repository (Repo, Ref, Commit, Path), or
	// SourceHelmRepository: a chart (Path) of the Helm repository Repo, at
	// the version Ref asked for, Version resolved, its archive's SHA-256 in
	// Commit; or SourceOCIArtifact. Left out of JSON for Git, so Git
	// plans' digests are unchanged.
	Kind    string `json:"kind,omitempty"`
	Repo    string `json:"repo"`
	Ref     string `json:"ref"`
	Commit  string `json:"commit"`
	Path    string `json:"path"`
	Version string `json:"version,omitempty"`
	// MediaType is the layer an OCI artifact was taken from, when its
	// stack names one (source.artifact.mediaType).
	MediaType string `json:"media_type,omitempty"`
	// Dependencies are the chart dependencies fetched for the render
	// (charts/ lacked them): "NAME VERSION SHA256" each.
	Dependencies []string `json:"dependencies,omitempty"`
	// Values is the keyed digest of the chart's release name, values files
	// and values as gantry.yaml gave them (source.helm); empty without.
	Values string `json:"values_digest,omitempty"`
	// Digest is the rendered revision's digest.
	Digest string `json:"digest"`
}

// SourceHelmRepository is the Kind of a chart taken from a Helm repository.
const SourceHelmRepository = "helm-repository"

// SourceOCIArtifact is the Kind of a path (Path) of an OCI artifact: the
// repository oci://… (Repo), the tag, range or digest asked (Ref), the
// tag resolved (Version; empty when asked by digest), the manifest's
// SHA-256 in Commit.
const SourceOCIArtifact = "oci-artifact"

// Options are the stack policies that shape a plan.
type Options struct {
	// Namespace is given to namespaced objects that name none.
	Namespace string `json:"namespace,omitempty"`
	// Prune deletes inventory objects no longer rendered.
	Prune bool `json:"prune"`
	// MaxPrunePercent: deleting more of the inventory is destructive.
	MaxPrunePercent int `json:"max_prune_percent"`
	// AllowEmpty lets an empty revision prune everything.
	AllowEmpty bool `json:"allow_empty"`
	// ForceConflicts takes over fields other managers own.
	ForceConflicts bool `json:"force_conflicts"`
	// VerifiedSource: the stack applies only signed commits (its verify
	// policy), so applying a commit that goes back from the last one
	// applied needs a person (the rollback rule, decided again at apply
	// time from the record). Left out of JSON when false, so digests of
	// plans of other stacks are what they were.
	VerifiedSource bool `json:"verified_source,omitempty"`
	// Sensitive are the fields the stack declares sensitive (gantry.yaml's
	// sensitive:), beyond a Secret's content: masked in every rendering of
	// the plan, scrubbed from its errors, sealed when stored. Left out of
	// JSON when empty, so digests of plans without are what they were.
	Sensitive []sensitive.Rule `json:"sensitive,omitempty"`
}

// Change is what the plan does to one object.
type Change struct {
	// Ref identifies the object.
	Ref ObjectRef `json:"ref"`
	// APIVersion is the version the object is applied (or deleted) with.
	APIVersion string `json:"api_version"`
	// Action is what happens to it.
	Action Action `json:"action"`
	// Before is the live object reduced to the fields that matter (the ones
	// gantry's field manager owns or will own); nil for a create. Secret
	// values are masked.
	Before *unstructured.Unstructured `json:"before,omitempty"`
	// After is what the object will be, reduced the same way; nil for a
	// delete. Secret values are masked, changed ones marked as changed.
	After *unstructured.Unstructured `json:"after,omitempty"`
	// Diff lists the changed fields; sensitive values are left out.
	Diff []ssa.FieldDiff `json:"diff,omitempty"`
	// Conflicts are fields another field manager owns and this apply sets.
	Conflicts []Conflict `json:"conflicts,omitempty"`
	// Drift: the object changed out of band while its desired state did not.
	Drift bool `json:"drift,omitempty"`
	// Owner names the other stack the live object belongs to (its
	// gantry.dev/stack label): applying this change is refused for it.
	Owner string `json:"owner,omitempty"`
	// VerifiedAtApply says why the server could not check this change at
	// plan time (e.g. its Namespace or CRD is created by this plan); empty
	// when it was checked.
	VerifiedAtApply string `json:"verified_at_apply,omitempty"`
	// Reason explains a replace (the immutable fields), a delete, a noop
	// that keeps an object the stack no longer renders, or a hook's run.
	Reason string `json:"reason,omitempty"`
	// Hook, for a hook object (helm.sh/hook), says how it runs: a create
	// in its phase, after deleting the last run's object by its policy.
	Hook *Hook `json:"hook,omitempty"`
}

// Conflict is a field another field manager owns.
type Conflict struct {
	// Field is the path the server names, e.g. ".spec.replicas".
	Field string `json:"field"`
	// Manager is the other field manager.
	Manager string `json:"manager"`
}

// Base is an object's live identity when the plan was computed.
type Base struct {
	// Ref identifies the object.
	Ref ObjectRef `json:"ref"`
	// APIVersion addresses the object (the desired or inventory version).
	APIVersion string `json:"api_version"`
	// Absent is true when the object did not exist.
	Absent bool `json:"absent,omitempty"`
	// UID and ResourceVersion of the live object.
	UID             string `json:"uid,omitempty"`
	ResourceVersion string `json:"resource_version,omitempty"`
	// Fingerprint is the salted hash of the live object without status and
	// server bookkeeping: it moves when anything an apply depends on moves.
	Fingerprint string `json:"fingerprint,omitempty"`
}

// Stats says what computing a plan cost.
type Stats struct {
	// Objects is the number of objects considered (desired and inventory).
	Objects int `json:"objects"`
	// Lists is the number of LIST requests.
	Lists int `json:"lists"`
	// DryRuns is the number of server-side dry-run applies.
	DryRuns int `json:"dry_runs"`
	// MemoHits is the number of objects the memo proved unchanged.
	MemoHits int `json:"memo_hits"`
	// Predictions is the number of local apply predictions (DiffLocal).
	Predictions int `json:"predictions"`
	// Requests is every API request, discovery included, when known.
	Requests int64 `json:"requests"`
	// Duration is how long planning took.
	Duration time.Duration `json:"duration_ns"`
}

// IsApproximate reports whether the server did not verify the plan's
// changes: true unless Mode is auto or server. It reads Mode, which the
// digest covers, and never the Approximate flag, which it does not: a
// planfile edited to drop the flag is still approximate.
func (p *Plan) IsApproximate() bool {
	return p.Mode != DiffAuto && p.Mode != DiffServer
}

// Summary counts the changes as Terraform does: a replace is one to add and
// one to destroy.
func (p *Plan) Summary() (add, change, destroy int) {
	for _, c := range p.Changes {
		if c.Hook != nil {
			continue // Hooks counts them
		}
		switch c.Action {
		case ActionCreate:
			add++
		case ActionUpdate, ActionAdopt:
			change++
		case ActionDelete:
			destroy++
		case ActionReplace:
			add++
			destroy++
		}
	}
	return add, change, destroy
}

// Hooks counts the hook runs of the plan (only a plan that changes
// something else runs hooks).
func (p *Plan) Hooks() int {
	n := 0
	for _, c := range p.Changes {
		if c.Hook != nil {
			n++
		}
	}
	return n
}

// HasChanges reports whether applying the plan would change anything.
func (p *Plan) HasChanges() bool {
	a, c, d := p.Summary()
	return a+c+d > 0
}

// Conflicted returns the changes with conflicts the plan does not force.
func (p *Plan) Conflicted() []Change {
	if p.Options.ForceConflicts {
		return nil
	}
	var out []Change
	for _, c := range p.Changes {
		if len(c.Conflicts) > 0 {
			out = append(out, c)
		}
	}
	return out
}
