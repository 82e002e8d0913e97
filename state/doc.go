// Package state is gantry's Postgres store: stacks, revisions and their
// content-addressed objects (later: plans, approvals, applies, audit events
// and locks), reached through pgx v5, with the schema in package migrations
// applied on Open.
//
// It also runs the embedded default: with no database URL configured, gantry
// keeps a private Postgres cluster (initdb + postgres from the machine's
// Postgres installation) in a directory of its own, listening only on a unix
// socket, started on first use and left running for later commands until
// `gantry db stop`. See package pgembed.
package state
