package source

import (
	"bytes"
	"path"
	"slices"
	"sync"

	yamlv3 "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// buildReads is the file system a kustomize build reads through. It sees
// every file the build reads, once each, and keeps what the build's
// result depends on: the values that could be Secret content (for its
// errors), and the first document that kubectl apply -f and kustomize
// would read differently (checkReadings), which the build refuses. The
// files kustomize reads as YAML are checked: kustomizations as kustomize
// reads them (sigs.k8s.io/yaml, YAML 1.1), resources, patches and configs
// as kyaml does. The files generators read are data, not YAML to check.
type buildReads struct {
	filesys.FileSystem

	mu      sync.Mutex
	seen    map[string]bool
	inputs  map[string]input // generator sources and patch files, by path
	roots   []string         // directories of the kustomizations read
	secrets secretValues
	refusal error
}

// input is what a file read by a build is to it, when it is not YAML of
// its own.
type input int

const (
	configInput input = iota + 1 // a configMapGenerator's file: data
	secretFile                   // a secretGenerator's file: Secret content
	secretEnv                    // a secretGenerator's env file: each value is
	secretPatch                  // a patch file that may target a Secret
)

func newBuildReads(fsys filesys.FileSystem) *buildReads {
	return &buildReads{FileSystem: fsys, seen: map[string]bool{}, inputs: map[string]input{}}
}

// ReadFile reads p and looks at it the first time it is read.
func (b *buildReads) ReadFile(p string) ([]byte, error) {
	data, err := b.FileSystem.ReadFile(p)
	if err == nil {
		b.see(p, data)
	}
	return data, err
}

// Open reads p as ReadFile does.
func (b *buildReads) Open(p string) (filesys.File, error) {
	data, err := b.ReadFile(p)
	if err != nil {
		return nil, err
	}
	return &readOnlyFile{Reader: bytes.NewReader(data), name: path.Base(p)}, nil
}

// scrub returns err without any value that could be Secret content in
// what the build read.
func (b *buildReads) scrub(err error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.secrets.scrub(err)
}

// problem returns the first document read that the build refuses.
func (b *buildReads) problem() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.refusal
}

// see looks at a file read for the first time.
func (b *buildReads) see(p string, data []byte) {
	p = path.Clean(p)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.seen[p] {
		return
	}
	b.seen[p] = true
	kind := b.inputs[p]
	switch kind {
	case configInput:
		return
	case secretFile, secretEnv:
		b.secrets.generatorFile(data, kind == secretEnv)
		return
	}
	mode := readKustomize
	if slices.Contains(konfig.RecognizedKustomizationFileNames(), path.Base(p)) {
		mode = readPlain
		b.kustomization(path.Dir(p), data)
	}
	for _, d := range splitDocuments(display(p), data) {
		root, parsed := parseDocument(d)
		b.secrets.parsedDocument(d, root, parsed)
		b.secrets.replacementDelimiters(d, root)
		if kind == secretPatch {
			b.secrets.patchValues(d)
		}
		if k := kindOf(root); k == "SecretGenerator" || k == "ConfigMapGenerator" || k == "?" {
			b.generatorConfig(d)
		}
		if b.refusal == nil {
			b.refusal = checkDocument(d, root, mode)
		}
	}
}

// checkDocument refuses what decodeDocument would refuse of d (parsed as
// root) before decoding it: content on its separator line, and what
// readers read differently. A document kustomize reads that is no YAML,
// or no mapping or list, is left to kustomize.
func checkDocument(d document, root *yamlv3.Node, mode reader) error {
	if d.separator != "" {
		return separatorError(d)
	}
	return checkParsed(d, root, mode)
}

// kustomization registers what the kustomization in dir makes of the
// files it names: generator sources, and patches that may target a
// Secret; and the Secret content it holds itself: secretGenerator
// literals, inline patches and inline generator configs.
func (b *buildReads) kustomization(dir string, data []byte) {
	var k types.Kustomization
	if yaml.Unmarshal(data, &k) != nil {
		return
	}
	b.roots = append(b.roots, dir)
	for _, g := range k.SecretGenerator {
		b.generatorSources(dir, g.KvPairSources, true)
	}
	for _, g := range k.ConfigMapGenerator {
		b.generatorSources(dir, g.KvPairSources, false)
	}
	for _, e := range k.Generators {
		for _, d := range splitDocuments("inline", []byte(e)) {
			b.generatorConfig(d)
		}
	}
	//lint:ignore SA1019 deprecated, but kustomize still loads it
	for _, p := range append(slices.Clone(k.Patches), k.PatchesJson6902...) {
		b.patch(dir, p)
	}
	//lint:ignore SA1019 deprecated, but kustomize still loads it
	for _, p := range k.PatchesStrategicMerge {
		for _, d := range splitDocuments("inline", []byte(p)) {
			b.secrets.document(d)
		}
	}
}

// patch registers a patch of the kustomization in dir: one whose target
// may be a Secret has its values taken as Secret content, inline or in
// its file.
func (b *buildReads) patch(dir string, p types.Patch) {
	for _, d := range splitDocuments("inline", []byte(p.Patch)) {
		b.secrets.document(d)
		if mayTargetSecret(p.Target) {
			b.secrets.patchValues(d)
		}
	}
	if p.Path != "" && mayTargetSecret(p.Target) {
		b.inputs[path.Join(dir, p.Path)] = secretPatch
	}
}

// mayTargetSecret reports whether a patch's target may select a Secret.
func mayTargetSecret(t *types.Selector) bool {
	return t == nil || t.Kind == "" || t.Kind == "Secret"
}

// generatorSources registers the files and env files of a generator of
// the kustomization in dir, and adds a secretGenerator's literals.
func (b *buildReads) generatorSources(dir string, s types.KvPairSources, secret bool) {
	file, env := configInput, configInput
	if secret {
		file, env = secretFile, secretEnv
		for _, l := range s.LiteralSources {
			b.secrets.literal(l)
		}
	}
	for _, f := range s.FileSources {
		if p, ok := fileSourcePath(f); ok {
			b.inputs[path.Join(dir, p)] = file
		}
	}
	envs := s.EnvSources
	if s.EnvSource != "" { // deprecated, but kustomize still loads it
		envs = append(envs, s.EnvSource)
	}
	for _, f := range envs {
		b.inputs[path.Join(dir, f)] = env
	}
}

// generatorConfig registers the sources of a builtin generator config (a
// document of kind SecretGenerator or ConfigMapGenerator, named in a
// kustomization's generators), which are relative to the kustomization
// that names it: to every kustomization read, to be sure.
func (b *buildReads) generatorConfig(d document) {
	js, err := yaml.YAMLToJSON(d.body)
	var m map[string]any
	if err != nil || utiljson.Unmarshal(js, &m) != nil {
		return
	}
	kind, _ := m["kind"].(string)
	if kind != "SecretGenerator" && kind != "ConfigMapGenerator" {
		return
	}
	var s types.KvPairSources
	s.LiteralSources, _, _ = unstructured.NestedStringSlice(m, "literals")
	s.FileSources, _, _ = unstructured.NestedStringSlice(m, "files")
	s.EnvSources, _, _ = unstructured.NestedStringSlice(m, "envs")
	s.EnvSource, _, _ = unstructured.NestedString(m, "env")
	for _, root := range append(slices.Clone(b.roots), path.Dir("/"+d.file)) {
		b.generatorSources(root, s, kind == "SecretGenerator")
	}
}
