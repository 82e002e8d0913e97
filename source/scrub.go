package source

import (
	"bytes"
	"path"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/gantryops/gantry/object"
)

// Errors from rendering can quote what they failed on. Those about a
// Secret pass through an object.Scrubber of its values: the Secret a
// manifest document describes, or the inputs of kustomize secretGenerators.

// scrubDocument removes from err the values of the Secrets d describes (a
// Secret, or Secrets among a List's items), read as leniently as possible:
// the document may be what failed to decode.
func scrubDocument(d document, err error) error {
	if err == nil {
		return nil
	}
	js, jerr := yaml.YAMLToJSON(d.body)
	if jerr != nil {
		return err // not even YAML: the parser's messages quote no values
	}
	var m map[string]any
	if utiljson.Unmarshal(js, &m) != nil {
		return err
	}
	objs := []*unstructured.Unstructured{{Object: m}}
	items, _ := m["items"].([]any)
	for _, item := range items {
		if im, ok := item.(map[string]any); ok {
			objs = append(objs, &unstructured.Unstructured{Object: im})
		}
	}
	return object.ScrubError(err, objs...)
}

// scrubKustomize removes from err (kustomize's, building dir) the inputs
// of every secretGenerator reachable from dir: literals, and the contents
// of the files and env files they read.
func scrubKustomize(fsys filesys.FileSystem, dir string, err error) error {
	if err == nil {
		return nil
	}
	values := secretInputs(fsys, dir, map[string]bool{})
	if len(values) == 0 {
		return err
	}
	return object.NewValueScrubber(values...).Error(err)
}

// secretInputs returns the values the secretGenerators of the
// kustomization in dir, and of those it includes, are made of.
func secretInputs(fsys filesys.FileSystem, dir string, seen map[string]bool) []string {
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
		return nil
	}
	var k types.Kustomization
	if yaml.Unmarshal(data, &k) != nil {
		return nil
	}
	var out []string
	for _, g := range k.SecretGenerator {
		out = append(out, kvInputs(fsys, dir, g.KvPairSources)...)
	}
	//lint:ignore SA1019 deprecated, but kustomize still loads it
	for _, e := range append(append(append([]string{}, k.Resources...), k.Bases...), k.Components...) {
		if sub := path.Join(dir, e); !strings.Contains(e, "://") && fsys.IsDir(sub) {
			out = append(out, secretInputs(fsys, sub, seen)...)
		}
	}
	return out
}

// kvInputs returns a generator's literals (whole, and their values) and the
// contents of the files it reads (whole, and each env line's value).
func kvInputs(fsys filesys.FileSystem, dir string, s types.KvPairSources) []string {
	var out []string
	for _, l := range s.LiteralSources {
		out = append(out, l)
		if _, v, ok := strings.Cut(l, "="); ok {
			out = append(out, v, strings.Trim(v, `"'`))
		}
	}
	read := func(p string) []byte {
		if _, after, ok := strings.Cut(p, "="); ok {
			p = after
		}
		b, err := fsys.ReadFile(path.Join(dir, p))
		if err != nil {
			return nil
		}
		return b
	}
	for _, f := range s.FileSources {
		if b := read(f); len(b) > 0 {
			out = append(out, string(b), string(bytes.TrimSpace(b)))
		}
	}
	envs := s.EnvSources
	if s.EnvSource != "" { // deprecated, but kustomize still loads it
		envs = append(envs, s.EnvSource)
	}
	for _, f := range envs {
		for _, line := range strings.Split(string(read(f)), "\n") {
			out = append(out, strings.TrimSpace(line))
			if _, v, ok := strings.Cut(line, "="); ok {
				out = append(out, strings.TrimSpace(v))
			}
		}
	}
	return out
}
