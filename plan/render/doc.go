// Package render shows a plan to people and programs: Text (the terminal,
// as Terraform's plan reads), Markdown (a pull-request comment within
// GitHub's size limit, hostile names escaped), JSON (a stable schema for
// programs), the known failures in each, and DiffLines (the unified YAML
// diff of two object views, for history). Renderers never unmask: the
// plan's views hold Secret values masked already.
package render
