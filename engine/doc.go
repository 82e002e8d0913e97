// Package engine runs gantry's sequence for a stack — fetch and render the
// revision, plan it against the cluster, record, gate, apply, record — once,
// for every caller: the CLI commands and (later) the continuous loop of
// `gantry run`. Today it holds the plan step.
package engine
