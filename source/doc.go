// Package source turns a Git commit into the set of Kubernetes objects it
// declares: Fetcher fetches a repository (local path, file://, HTTPS or SSH)
// into a cache directory and resolves a branch, tag or commit SHA; Render
// builds a path of that commit with kustomize, or reads it as a directory of
// YAML, into a Revision whose Digest identifies the rendered content.
//
// Rendering reads only the committed tree of the resolved commit, copied into
// memory: a kustomization cannot reach files outside the repository, run
// plugins, or fetch remote bases unless RenderOptions.AllowRemoteBases is set.
package source
