// Package apply carries out a plan, exactly: it checks before any write that
// the plan may be applied (its base still matches the cluster, it is exact,
// approved when destructive, free of unforced conflicts), then applies it by
// server-side apply in phases — Namespaces, CustomResourceDefinitions (waiting
// until Established), cluster-scoped RBAC, everything else — with bounded
// concurrency inside a phase, replaces objects whose immutable fields change
// (delete, wait until gone, create), waits until the applied objects are
// ready (kstatus), and only then prunes, in reverse phase order.
//
// Results are data (a Report with one Outcome per change); recording them is
// the caller's business (package engine). A failed or interrupted apply stops
// before prune, so nothing is deleted unless everything else succeeded.
package apply
