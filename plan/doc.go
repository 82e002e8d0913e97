// Package plan computes and describes what applying a revision would do to
// the live cluster, exactly.
//
// The Planner reads live objects with one LIST per resource, skips objects
// the no-op memo proves unchanged, asks the API server (server-side dry-run
// apply) about everything else, and compares the result with the live object
// on the fields gantry's field manager owns. It turns field-manager conflicts,
// immutable fields, objects the server cannot see yet (a Namespace or CRD
// created by the same plan) and prune candidates into Changes, and classifies
// a plan that deletes too much as destructive.
//
// The package is pure: no database, no logging, no network of its own. The
// cluster is reached through the Cluster interface; the memo comes in as a
// map and its updates go out in the Result.
//
// A Plan is immutable and self-contained: desired manifests, the base each
// object had when planned, the inventory generation, and a digest over all of
// it. Renderers (text, JSON, Markdown) never show a Secret value; a planfile
// holds the desired manifests unmasked, since applying it needs them.
package plan
