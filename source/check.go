package source

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// checkKustomization walks every kustomization reachable from dir before the
// build and refuses, naming the file:
//   - entries that name a remote location, unless opts.AllowRemoteBases.
//     kustomize has no switch for this: left alone it would run `git clone` or
//     an HTTP GET for such entries. Checking first means nothing is fetched.
//   - generator, transformer and validator configs that are external plugins
//     (exec or container KRM functions, Go plugins). kustomize refuses them
//     too with plugins off, but without saying which file asked for one.
func checkKustomization(fsys filesys.FileSystem, dir string, opts RenderOptions, seen map[string]bool) error {
	if seen[dir] {
		return nil
	}
	seen[dir] = true
	file := kustomizationFile(fsys, dir)
	if file == "" {
		return nil
	}
	data, err := fsys.ReadFile(file)
	if err != nil {
		return err
	}
	var k types.Kustomization
	if err := yaml.Unmarshal(data, &k); err != nil {
		return nil // kustomize reports malformed files with better context
	}
	check := func(field string, entries []string, recurse, plugins bool) error {
		for i, e := range entries {
			if isRemote(fsys, dir, e) {
				if opts.AllowRemoteBases {
					continue
				}
				return fmt.Errorf("%s: %s[%d] %q is a remote location; remote bases are disabled: vendor it into the repository, or enable them with --allow-remote-bases",
					display(file), field, i, e)
			}
			sub := path.Join(dir, e)
			if recurse && fsys.IsDir(sub) {
				if err := checkKustomization(fsys, sub, opts, seen); err != nil {
					return err
				}
			} else if plugins && fsys.Exists(sub) {
				if err := checkPluginConfig(fsys, sub); err != nil {
					return fmt.Errorf("%s: %s[%d]: %w", display(file), field, i, err)
				}
			}
		}
		return nil
	}
	for _, f := range []struct {
		name             string
		entries          []string
		recurse, plugins bool
	}{
		{"resources", k.Resources, true, false},
		//lint:ignore SA1019 deprecated, but kustomize still loads it
		{"bases", k.Bases, true, false},
		{"components", k.Components, true, false},
		{"generators", k.Generators, true, true},
		{"transformers", k.Transformers, true, true},
		{"validators", k.Validators, true, true},
		{"crds", k.Crds, false, false},
		{"configurations", k.Configurations, false, false},
		{"patches", patchPaths(k), false, false},
		{"replacements", replacementPaths(k), false, false},
		{"configMapGenerator", generatorPaths(k.ConfigMapGenerator), false, false},
		{"secretGenerator", secretGeneratorPaths(k.SecretGenerator), false, false},
		{"openapi", []string{k.OpenAPI["path"]}, false, false},
	} {
		if err := check(f.name, f.entries, f.recurse, f.plugins); err != nil {
			return err
		}
	}
	return nil
}

// functionAnnotations mark a config as a KRM function (exec or container).
var functionAnnotations = []string{"config.kubernetes.io/function", "config.k8s.io/function"}

// checkPluginConfig refuses a generator/transformer/validator config file
// that asks for an external plugin rather than one of kustomize's builtins.
func checkPluginConfig(fsys filesys.FileSystem, file string) error {
	data, err := fsys.ReadFile(file)
	if err != nil {
		return nil // kustomize reports unreadable files
	}
	builtins := krusty.GetBuiltinPluginNames()
	for _, d := range splitDocuments(display(file), data) {
		objs, err := decodeDocument(d)
		if err != nil {
			// A config gantry cannot read (wrong types hide annotations
			// from the getters) might be a plugin: refuse it.
			return err
		}
		for _, u := range objs {
			_, function := u.GetAnnotations()[functionAnnotations[0]]
			_, legacy := u.GetAnnotations()[functionAnnotations[1]]
			if function || legacy || !slices.Contains(builtins, u.GetKind()) {
				return fmt.Errorf("%s: %s %q is an external kustomize plugin (exec, container or Go); gantry renders with plugins disabled: render it in CI and commit the output, or use a builtin generator or transformer",
					d.where(), u.GetKind(), u.GetName())
			}
		}
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

// isRemote reports whether a kustomization entry names something kustomize
// would fetch over the network rather than read from the repository.
func isRemote(fsys filesys.FileSystem, dir, entry string) bool {
	e := strings.TrimSpace(entry)
	if e == "" || strings.Contains(e, "\n") { // empty, or an inline patch
		return false
	}
	if strings.Contains(e, "://") || strings.HasPrefix(e, "git@") || strings.HasPrefix(e, "git::") {
		return true
	}
	// "github.com/org/repo//path?ref=v1": a host name as first segment, unless
	// the repository really has a directory or file of that name.
	first, _, hasSlash := strings.Cut(e, "/")
	if hasSlash && strings.Contains(first, ".") && first != "." && first != ".." {
		return !fsys.Exists(path.Join(dir, first))
	}
	return false
}

func patchPaths(k types.Kustomization) []string {
	var out []string
	for _, p := range k.Patches {
		out = append(out, p.Path)
	}
	//lint:ignore SA1019 deprecated, but kustomize still loads it
	for _, p := range k.PatchesJson6902 {
		out = append(out, p.Path)
	}
	//lint:ignore SA1019 deprecated, but kustomize still loads it
	for _, p := range k.PatchesStrategicMerge {
		out = append(out, string(p))
	}
	return out
}

func replacementPaths(k types.Kustomization) []string {
	var out []string
	for _, r := range k.Replacements {
		out = append(out, r.Path)
	}
	return out
}

func generatorPaths(gs []types.ConfigMapArgs) []string {
	var out []string
	for _, g := range gs {
		out = append(out, sourcePaths(g.KvPairSources)...)
	}
	return out
}

func secretGeneratorPaths(gs []types.SecretArgs) []string {
	var out []string
	for _, g := range gs {
		out = append(out, sourcePaths(g.KvPairSources)...)
	}
	return out
}

func sourcePaths(s types.KvPairSources) []string {
	out := append([]string{}, s.EnvSources...)
	if s.EnvSource != "" { // deprecated, but kustomize still loads it
		out = append(out, s.EnvSource)
	}
	for _, f := range s.FileSources {
		if _, p, ok := strings.Cut(f, "="); ok {
			f = p
		}
		out = append(out, f)
	}
	return out
}

// display turns an in-memory path ("/overlays/dev/x.yaml") into the
// repository-relative path users know.
func display(p string) string {
	if p == "/" {
		return "."
	}
	return strings.TrimPrefix(p, "/")
}
