// Package migrations holds gantry's Postgres schema as numbered SQL files
// (NNN_name.up.sql), embedded into the binary and applied with jackc/tern.
// Migrations only move forward: there are no down files, and a database whose
// schema is newer than the running binary is refused rather than touched.
package migrations
