package source

import (
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"

	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/provider"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// loads says how kustomize loads a field's entries, which decides what it
// fetches: a file (ldr.Load) is fetched when it is an http(s) URL; a root
// (resources, components, generators...: ldr.New after ldr.Load) is also
// cloned with `git` when kustomize's parser takes it for a repository.
type loads int

const (
	loadsFile loads = iota
	loadsRoot
)

// remote reports whether kustomize would fetch entry, loaded as kind: by
// kustomize's own tests, not a guess of gantry's. An http(s) URL is
// fetched by any load; a Git repository address (github.com/org/repo,
// user@host:org/repo, ssh://, file://, .git, _git, ?ref=, //subdir) is
// cloned by a root load, whatever the repository holds at that path.
func remote(entry string, kind loads) bool {
	if entry == "" || strings.Contains(entry, "\n") { // empty, or inline YAML
		return false
	}
	for _, e := range []string{entry, strings.TrimSpace(entry)} {
		if u, err := url.Parse(e); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
			return true
		}
		if kind == loadsRoot && gitRepository(e) {
			return true
		}
	}
	return false
}

// gitRepository asks kustomize's parser whether it takes e for a Git
// repository: Origin.Append is the one public door to it
// (git.NewRepoSpecFromURL is internal).
func gitRepository(e string) (repo bool) {
	defer func() {
		if recover() != nil {
			repo = true // the parser choked: refuse rather than guess
		}
	}()
	return (&resource.Origin{}).Append(e).Repo != ""
}

// checker walks every kustomization reachable from the one rendered.
type checker struct {
	fsys filesys.FileSystem
	opts RenderOptions
	seen map[string]bool
}

// checkKustomization walks every kustomization reachable from dir before the
// build and refuses, naming the file, the field and the entry:
//   - entries that name a remote location, unless opts.AllowRemoteBases, in
//     every field that loads content and in the builtin generator and
//     transformer configs. This is for the error message: the guarantee
//     that nothing is fetched is the sandbox the build runs in.
//   - generator, transformer and validator configs that are external plugins
//     (exec or container KRM functions, Go plugins). kustomize refuses them
//     too with plugins off, but without saying which file asked for one.
//   - helm charts: gantry renders with helm off.
func checkKustomization(fsys filesys.FileSystem, dir string, opts RenderOptions, seen map[string]bool) error {
	return (&checker{fsys: fsys, opts: opts, seen: seen}).kustomization(dir)
}

func (c *checker) kustomization(dir string) error {
	if c.seen[dir] {
		return nil
	}
	c.seen[dir] = true
	file := kustomizationFile(c.fsys, dir)
	if file == "" {
		return nil
	}
	data, err := c.fsys.ReadFile(file)
	if err != nil {
		return err
	}
	var k types.Kustomization
	if err := k.Unmarshal(data); err != nil {
		return nil // kustomize reports malformed files with better context
	}
	if len(k.HelmCharts) > 0 || len(k.HelmChartInflationGenerator) > 0 || k.HelmGlobals != nil {
		return fmt.Errorf("%s: helmCharts: gantry renders kustomizations with helm disabled: render the chart in CI and commit the output", display(file))
	}
	for _, f := range fields(&k) {
		for i, e := range f.entries {
			if err := c.entry(dir, f.name, f.kind, f.configs, e); err != nil {
				return fmt.Errorf("%s: %s[%d]%s", display(file), f.name, i, err)
			}
		}
	}
	return nil
}

// entry checks one entry of a field of the kustomization in dir. Its error
// continues "file: field[i]".
func (c *checker) entry(dir, field string, kind loads, configs bool, e string) error {
	if remote(e, kind) {
		if c.opts.AllowRemoteBases {
			return nil
		}
		return fmt.Errorf(" %q is a remote location; remote bases are disabled: vendor it into the repository, or enable them with --allow-remote-bases", e)
	}
	if configs && inlineConfig(e) {
		return c.configs("inline "+field, []byte(e))
	}
	sub := path.Join(dir, e)
	if kind == loadsRoot && c.fsys.IsDir(sub) {
		if err := c.kustomization(sub); err != nil {
			return fmt.Errorf(": %w", err)
		}
		return nil
	}
	if configs && c.fsys.Exists(sub) {
		data, err := c.fsys.ReadFile(sub)
		if err != nil {
			return nil // kustomize reports unreadable files
		}
		return c.configs(display(sub), data)
	}
	return nil
}

// inlineConfig reports whether a generators/transformers/validators entry
// is a config written inline, decided as kustomize decides it: its resource
// factory reads the entry as objects (whatever their fields hold).
func inlineConfig(e string) bool {
	_, err := configFactory().NewResMapFromBytes([]byte(e))
	return err == nil
}

// configFactory is kustomize's resource factory, as a build uses it to read
// generator, transformer and validator configs.
var configFactory = sync.OnceValue(func() *resmap.Factory {
	return resmap.NewFactory(provider.NewDefaultDepProvider().GetResourceFactory())
})

// field is a kustomization field whose entries kustomize loads.
type field struct {
	name    string
	entries []string
	kind    loads
	configs bool // entries are generator/transformer/validator configs
}

// fields lists the entries of every field of k that loads content.
func fields(k *types.Kustomization) []field {
	var patches, psm, json6902, replacements []string
	for _, p := range k.Patches {
		patches = append(patches, p.Path)
	}
	//lint:ignore SA1019 deprecated, but kustomize still loads it
	for _, p := range k.PatchesStrategicMerge {
		psm = append(psm, string(p))
	}
	//lint:ignore SA1019 deprecated, but kustomize still loads it
	for _, p := range k.PatchesJson6902 {
		json6902 = append(json6902, p.Path)
	}
	for _, r := range k.Replacements {
		replacements = append(replacements, r.Path)
	}
	out := []field{
		{"resources", k.Resources, loadsRoot, false},
		//lint:ignore SA1019 deprecated, but kustomize still loads it
		{"bases", k.Bases, loadsRoot, false},
		{"components", k.Components, loadsRoot, false},
		{"generators", k.Generators, loadsRoot, true},
		{"transformers", k.Transformers, loadsRoot, true},
		{"validators", k.Validators, loadsRoot, true},
		{"crds", k.Crds, loadsFile, false},
		{"configurations", k.Configurations, loadsFile, false},
		{"openapi.path", []string{k.OpenAPI["path"]}, loadsFile, false},
		{"patches", patches, loadsFile, false},
		{"patchesStrategicMerge", psm, loadsFile, false},
		{"patchesJson6902", json6902, loadsFile, false},
		{"replacements", replacements, loadsFile, false},
	}
	for i, g := range k.ConfigMapGenerator {
		out = append(out, sourceFields(fmt.Sprintf("configMapGenerator[%d]", i), g.KvPairSources)...)
	}
	for i, g := range k.SecretGenerator {
		out = append(out, sourceFields(fmt.Sprintf("secretGenerator[%d]", i), g.KvPairSources)...)
	}
	return out
}

// sourceFields are the file-loading fields of one generator.
func sourceFields(name string, s types.KvPairSources) []field {
	var files []string
	for _, f := range s.FileSources {
		if p, ok := fileSourcePath(f); ok {
			files = append(files, p)
		}
	}
	return []field{
		{name + ".files", files, loadsFile, false},
		{name + ".envs", s.EnvSources, loadsFile, false},
		{name + ".env", []string{s.EnvSource}, loadsFile, false}, // deprecated, but kustomize still loads it
	}
}

// functionAnnotations mark a config as a KRM function (exec or container).
var functionAnnotations = []string{"config.kubernetes.io/function", "config.k8s.io/function"}

// configs checks generator/transformer/validator configs (a file, or an
// inline entry): each must be a builtin, and the fields of builtins that
// load files may not name remote locations. The configs are read by
// kustomize's own reader and their fields looked up in the YAML, whatever
// the other fields hold: gantry's decoder refuses what kustomize reads (a
// label that is a number), and a config it skipped could fetch.
func (c *checker) configs(where string, data []byte) error {
	chunks, ok := kyamlChunks(data)
	if !ok {
		return nil // kustomize refuses the file
	}
	for _, ch := range chunks {
		rm, err := configFactory().NewResMapFromBytes(ch.body)
		if err != nil {
			continue // kustomize reports it
		}
		for _, r := range rm.Resources() {
			at := fmt.Sprintf("%s:%d", where, ch.line+max(r.YNode().Line, 1))
			if err := c.config(at, &r.RNode); err != nil {
				return fmt.Errorf(": %s: %w", at, err)
			}
		}
	}
	return nil
}

// config checks one config read from at.
func (c *checker) config(at string, r *kyaml.RNode) error {
	kind, name := r.GetKind(), r.GetName()
	annotations, _ := r.Pipe(kyaml.Lookup("metadata", "annotations"))
	function := annotations != nil && (annotations.Field(functionAnnotations[0]) != nil || annotations.Field(functionAnnotations[1]) != nil)
	if function || !slices.Contains(krusty.GetBuiltinPluginNames(), kind) {
		return fmt.Errorf("%s %q is an external kustomize plugin (exec, container or Go); gantry renders with plugins disabled: render it in CI and commit the output, or use a builtin generator or transformer", kind, name)
	}
	if kind == "HelmChartInflationGenerator" {
		return fmt.Errorf("HelmChartInflationGenerator %q: gantry renders kustomizations with helm disabled: render the chart in CI and commit the output", name)
	}
	for _, p := range configPaths(kind, r) {
		if remote(p.value, loadsFile) && !c.opts.AllowRemoteBases {
			return fmt.Errorf("%s %q %s %q is a remote location; remote bases are disabled: vendor it into the repository, or enable them with --allow-remote-bases", kind, name, p.field, p.value)
		}
	}
	return nil
}

// configPath is a field of a builtin config that names a file to load.
type configPath struct{ field, value string }

// configPaths returns the file-loading fields of a builtin config of kind:
// those whose builtin calls its loader's Load (kustomize
// api/internal/builtins), each scalar of them whatever its tag.
func configPaths(kind string, r *kyaml.RNode) []configPath {
	var out []configPath
	values := func(field string, n *kyaml.RNode) {
		switch {
		case n == nil:
		case n.YNode().Kind == kyaml.ScalarNode:
			out = append(out, configPath{field, n.YNode().Value})
		case n.YNode().Kind == kyaml.SequenceNode:
			for _, e := range n.Content() {
				if e.Kind == kyaml.ScalarNode {
					out = append(out, configPath{field, e.Value})
				}
			}
		}
	}
	switch kind {
	case "PatchTransformer", "PatchJson6902Transformer":
		values("path", fieldValue(r, "path"))
	case "PatchStrategicMergeTransformer":
		values("paths", fieldValue(r, "paths"))
	case "ValueAddTransformer":
		values("targetFilePath", fieldValue(r, "targetFilePath"))
	case "ConfigMapGenerator", "SecretGenerator":
		values("envs", fieldValue(r, "envs"))
		values("env", fieldValue(r, "env"))
		n := len(out)
		values("files", fieldValue(r, "files"))
		for i := n; i < len(out); i++ {
			out[i].value, _ = fileSourcePath(out[i].value)
		}
	case "ReplacementTransformer":
		if list := fieldValue(r, "replacements"); list != nil && list.YNode().Kind == kyaml.SequenceNode {
			for _, e := range list.Content() {
				values("replacements.path", fieldValue(kyaml.NewRNode(e), "path"))
			}
		}
	}
	return out
}

// fieldValue returns the value of r's field name, or nil.
func fieldValue(r *kyaml.RNode, name string) *kyaml.RNode {
	if f := r.Field(name); f != nil {
		return f.Value
	}
	return nil
}

func kustomizationFile(fsys filesys.FileSystem, dir string) string {
	for _, n := range konfig.RecognizedKustomizationFileNames() {
		if p := path.Join(dir, n); fsys.Exists(p) && !fsys.IsDir(p) {
			return p
		}
	}
	return ""
}

// fileSourcePath is the path of a generator's file source, "path" or
// "key=path", as kustomize reads it (generators.ParseFileSource): a
// source with more than one '=' is an error there, and loads nothing.
func fileSourcePath(source string) (string, bool) {
	switch strings.Count(source, "=") {
	case 0:
		return source, true
	case 1:
		_, p, _ := strings.Cut(source, "=")
		return p, true
	}
	return "", false
}

// display turns an in-memory path ("/overlays/dev/x.yaml") into the
// repository-relative path users know.
func display(p string) string {
	if p == "/" || p == "." {
		return "."
	}
	return strings.TrimPrefix(p, "/")
}
