package render

import (
	"encoding/json"
	"io"

	"github.com/gantryops/gantry/plan"
)

// jsonPlan is the plan as JSON output shows it: everything a machine needs
// to act on the plan, without the desired manifests (they hold Secret data;
// a planfile carries them).
type jsonPlan struct {
	FormatVersion       int           `json:"format_version"`
	ID                  string        `json:"id"`
	Stack               string        `json:"stack"`
	Source              plan.Source   `json:"source"`
	Cluster             string        `json:"cluster"`
	CreatedAt           string        `json:"created_at"`
	Mode                plan.DiffMode `json:"mode"`
	Approximate         bool          `json:"approximate"`
	Options             plan.Options  `json:"options"`
	InventoryGeneration int64         `json:"inventory_generation"`
	Summary             jsonSummary   `json:"summary"`
	Destructive         []string      `json:"destructive"`
	Changes             []plan.Change `json:"changes"`
	// KnownFailures are the changes the apply is known to fail on: when
	// there are any, the plan cannot be applied as it is.
	KnownFailures []plan.KnownFailure `json:"known_failures"`
	Digest        string              `json:"digest"`
	RestoredFrom  string              `json:"restored_from,omitempty"`
	Held          string              `json:"held,omitempty"`
	Rollback      string              `json:"rollback,omitempty"`
	Stats         plan.Stats          `json:"stats"`
}

type jsonSummary struct {
	Add       int  `json:"add"`
	Change    int  `json:"change"`
	Destroy   int  `json:"destroy"`
	Hooks     int  `json:"hooks"`
	Conflicts int  `json:"conflicts"`
	NoChanges bool `json:"no_changes"`
	// Applicable is false when gantry apply refuses the plan whatever is
	// approved: it is approximate, or has known failures.
	Applicable bool `json:"applicable"`
}

// JSON writes p as JSON (format_version FormatVersion). Secret values
// are masked as in every rendering.
func JSON(w io.Writer, p *plan.Plan) error {
	add, change, destroy := p.Summary()
	failures := plan.KnownFailures(p)
	if failures == nil {
		failures = []plan.KnownFailure{}
	}
	out := jsonPlan{
		FormatVersion: p.FormatVersion, ID: p.ID, Stack: p.Stack, Source: p.Source, Cluster: p.Cluster,
		CreatedAt: p.CreatedAt.Format("2006-01-02T15:04:05Z07:00"), Mode: p.Mode, Approximate: p.IsApproximate(),
		Options: p.Options, InventoryGeneration: p.InventoryGeneration,
		Summary: jsonSummary{Add: add, Change: change, Destroy: destroy, Hooks: p.Hooks(), Conflicts: len(p.Conflicted()), NoChanges: !p.HasChanges(),
			Applicable: !p.IsApproximate() && len(failures) == 0},
		Destructive: p.Destructive, Changes: p.Changes, KnownFailures: failures, Digest: p.Digest, Stats: p.Stats,
		RestoredFrom: p.RestoredFrom, Held: p.Held, Rollback: p.Rollback,
	}
	if out.Destructive == nil {
		out.Destructive = []string{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
