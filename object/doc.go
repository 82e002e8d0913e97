// Package object holds the small value types every other gantry package shares
// about Kubernetes objects: Ref, the version-free identity used as a map key
// everywhere (plans, inventories, Postgres rows), and the canonical JSON
// encoding and hash that make stored objects content-addressed, and how
// digests (Git commit SHAs among them) are abbreviated for people.
//
// It has no dependencies on the rest of gantry and does no I/O.
package object
