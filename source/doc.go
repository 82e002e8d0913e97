// Package source turns a Git commit into the set of Kubernetes objects it
// declares: Fetcher fetches a repository (local path, file://, HTTPS or SSH)
// into a cache directory and resolves a branch, tag or commit SHA; Render
// builds a path of that commit with kustomize, or reads it as a directory of
// YAML, into a Revision whose Digest identifies the rendered content.
//
// Rendering reads only the committed tree of the resolved commit, through a
// lazy read-only view that reads what the rendered path reaches and nothing
// else, within bounds: bytes per file and per render, Git tree entries, and
// YAML aliases, expansion and nesting. A kustomization cannot reach files
// outside the repository or run plugins. Unless RenderOptions.AllowRemoteBases
// is set it cannot fetch either: kustomize decides by syntax alone to run
// `git` or send a request, so the build runs in a sandbox process (this
// binary, re-executed; see the init function in sandbox.go) with no PATH, no
// HTTP transport and, on Linux, no network.
package source
