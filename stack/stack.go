package stack

import (
	"time"

	"github.com/gantryops/gantry/sensitive"
)

// APIVersion and Kind identify a gantry.yaml document.
const (
	APIVersion = "gantry.dev/v1alpha1"
	Kind       = "Config"
)

// Config is a parsed gantry.yaml.
type Config struct {
	// File is the path the config was read from, for messages.
	File string
	// Stacks in file order; names are unique.
	Stacks []Stack
	// Notifications say which events go to which receivers (nil: none).
	Notifications *Notifications
}

// Stack is one stack with every default resolved.
type Stack struct {
	// Name identifies the stack: in CLI arguments, in Postgres, and as the
	// value of the gantry.dev/stack label on every object it applies.
	// A DNS label: lowercase alphanumerics and '-', at most 63 characters.
	Name string
	// Source says where the manifests come from.
	Source Source
	// Target says where they go.
	Target Target
	// Prune deletes objects the stack applied before and no longer renders.
	// Default true.
	Prune bool
	// MaxPrunePercent: a plan deleting more than this share of the stack's
	// inventory is destructive and needs approval. 0–100, default 25.
	MaxPrunePercent int
	// AllowEmpty lets a revision that renders no objects prune the whole
	// inventory (a destructive plan). Default false: such a plan is refused.
	AllowEmpty bool
	// ForceConflicts takes over fields other field managers own instead of
	// failing on the conflict. Default false.
	ForceConflicts bool
	// Approval decides which plans apply without a person approving them.
	Approval Approval
	// Schedule is how often `gantry run` reconciles the stack.
	Schedule Schedule
	// Windows allow or deny applies by time (as Argo CD's sync windows): a
	// denied stack is still planned, and its applies wait. Empty: always
	// allowed.
	Windows []Window
	// Drift decides what `gantry run` does about out-of-band changes while
	// Git did not change. Default DriftCorrect.
	Drift Drift
	// Sensitive declares fields of the stack's objects sensitive, beyond a
	// Secret's content: masked in plans, history and errors, sealed when
	// stored, as a Secret's values are.
	Sensitive []sensitive.Rule
	// Verify, when set, requires every commit applied to be signed by one
	// of its keys; others are refused before they are rendered.
	Verify *Verify
}

// Verify is a stack's commit signature policy.
type Verify struct {
	// Provider is "openpgp" or "ssh" (git's gpg.format).
	Provider string
	// Mode is what must be signed: "commit" (the default: the commit the
	// ref points at) or "tag" (the annotated tag the ref names, as for
	// signed releases).
	Mode string
	// Keys is a file of trusted keys: an armored OpenPGP key ring, or SSH
	// public keys one per line (authorized_keys or allowed-signers lines).
	// Relative paths are resolved against gantry.yaml's directory. Read at
	// every verification, so rotating keys needs no restart.
	Keys string
}

// Drift is a drift policy. Values are stored: stable.
type Drift string

// Drift policies.
const (
	// DriftCorrect applies plans that only undo out-of-band changes.
	DriftCorrect Drift = "correct"
	// DriftReport records such plans (and the drift) and applies nothing;
	// the next commit's apply overwrites the drift as any apply does.
	DriftReport Drift = "report"
)

// Source is a path in a Git repository at a ref, a chart of a Helm
// repository (Chart), or a path in an OCI artifact (Artifact).
type Source struct {
	// Repo is a local path (relative to the config file), file://, https://
	// or ssh:// URL.
	Repo string
	// Ref is a branch, tag, HEAD, full ref name or full commit SHA. Default HEAD.
	Ref string
	// Path inside the repository. Default ".".
	Path string
	// AllowRemoteBases lets kustomizations fetch remote bases. Default false.
	AllowRemoteBases bool
	// AllowInsecureHTTPCredentials lets gantry send its Git credentials
	// (GANTRY_GIT_TOKEN, user and password, or those in the URL) to Repo
	// although it is a plain http:// URL, where they travel in clear text.
	// Only valid with an http:// Repo. Default false: none are sent.
	AllowInsecureHTTPCredentials bool
	// MaxRenderBytes bounds the bytes one render of the stack reads from
	// its commit, every read counted. 0: source.DefaultRenderOptions'.
	MaxRenderBytes int64
	// Helm renders Path when it holds a Helm chart (a Chart.yaml), or
	// Chart; nil: the chart's defaults, released under the stack's name.
	Helm *Helm
	// Chart, instead of Repo, takes a chart from a Helm HTTP repository.
	Chart *Chart
	// Artifact, instead of Repo, takes Path of an OCI artifact.
	Artifact *Artifact
}

// Chart is a chart of a Helm HTTP repository (an index.yaml).
type Chart struct {
	// Repository is the repository's http(s) URL, without credentials.
	Repository string
	// Name is the chart's name in the repository's index.
	Name string
	// Version is an exact version, or a semver range (the highest match).
	Version string
}

// Target is where a stack's objects go.
type Target struct {
	// Namespace is given to namespaced objects that name none. Empty: such
	// objects are an error.
	Namespace string
}

// Approval is a gate policy.
type Approval string

// Approval policies.
const (
	// ApprovalAuto applies every plan, destructive ones too.
	ApprovalAuto Approval = "auto"
	// ApprovalManual applies no plan before `gantry approve`.
	ApprovalManual Approval = "manual"
	// ApprovalAutoUnlessDestructive applies safe plans and holds destructive
	// ones for approval. The default.
	ApprovalAutoUnlessDestructive Approval = "auto-unless-destructive"
)

// Schedule is a reconcile interval with jitter.
type Schedule struct {
	// Interval between reconciles. At least 10s, default 5m.
	Interval time.Duration
	// Jitter: each wait is Interval plus a random part of up to Jitter, so
	// that many stacks do not reconcile in lockstep. Default Interval/10.
	Jitter time.Duration
}

// Defaults for fields a stack leaves out.
const (
	DefaultRef             = "HEAD"
	DefaultMaxPrunePercent = 25
	DefaultInterval        = 5 * time.Minute
	MinInterval            = 10 * time.Second
)

// Find returns the stack named name.
func (c *Config) Find(name string) (*Stack, bool) {
	for i := range c.Stacks {
		if c.Stacks[i].Name == name {
			return &c.Stacks[i], true
		}
	}
	return nil, false
}

// Names returns the stacks' names in file order.
func (c *Config) Names() []string {
	out := make([]string, len(c.Stacks))
	for i, s := range c.Stacks {
		out[i] = s.Name
	}
	return out
}

// WithArtifact returns s taking its manifests from art (nil: s as it is).
func (s Stack) WithArtifact(art *Artifact) Stack {
	if art != nil {
		s.Source.Artifact, s.Source.Repo = art, ""
	}
	return s
}

// WithChart returns s taking its manifests from chart (nil: s as it is).
func (s Stack) WithChart(chart *Chart) Stack {
	if chart != nil {
		s.Source.Chart, s.Source.Repo = chart, ""
	}
	return s
}
