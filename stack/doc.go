// Package stack defines gantry.yaml, the file that declares stacks: for each,
// where its manifests come from (repository, ref, path), where they go
// (target namespace), and the policies that govern planning and applying
// (prune, maxPrunePercent, allowEmpty, forceConflicts, approval, schedule).
//
// Load is strict: an unknown field, a value of the wrong type, or an invalid
// value is an error naming the file, line, field and what is allowed, and
// every such error in the file is reported at once.
package stack
