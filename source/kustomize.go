package source

import (
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/openapi"
)

func renderKustomization(fsys filesys.FileSystem, dir string, opts RenderOptions) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	err := buildEach(fsys, dir, opts, func(_ []byte, u *unstructured.Unstructured) { out = append(out, u) })
	if err != nil {
		return nil, err
	}
	return out, nil
}

// build builds the kustomization in dir (buildEach), or renders the chart
// there, returning each object's JSON: what the sandbox answers.
func build(fsys filesys.FileSystem, dir string, opts RenderOptions) ([][]byte, error) {
	if isChart(fsys, dir) {
		return chartJSON(fsys, dir, opts)
	}
	var out [][]byte
	err := buildEach(fsys, dir, opts, func(js []byte, _ *unstructured.Unstructured) { out = append(out, js) })
	if err != nil {
		return nil, err
	}
	return out, nil
}

// buildEach checks the kustomization in dir, builds it with kustomize and
// calls each with every object, as kustomize writes it and decoded, once
// it is validated (decodeObject). Its reads go through buildReads, which
// refuses YAML that kubectl and kustomize read differently; its errors
// hold no value that could be Secret content in any file it read. It runs
// in the sandbox, where the error is scrubbed before it leaves the
// process.
func buildEach(fsys filesys.FileSystem, dir string, opts RenderOptions, each func([]byte, *unstructured.Unstructured)) (err error) {
	reads := newBuildReads(fsys)
	defer func() { err = reads.scrub(err) }()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("kustomize build %s: kustomize panicked on this input (a bug of kustomize's; simplify the kustomization): %v", display(dir), r)
		}
	}()
	if !opts.skipPreCheck {
		if err := checkKustomization(reads, dir, opts, map[string]bool{}); err != nil {
			return err
		}
	}
	k := krusty.MakeKustomizer(&krusty.Options{
		Reorder:          krusty.ReorderOptionNone,
		LoadRestrictions: types.LoadRestrictionsRootOnly,
		PluginConfig:     types.DisabledPluginConfig(),
	})
	resources, err := runKustomize(k, reads, dir)
	if p := reads.problem(); p != nil {
		return fmt.Errorf("kustomize build %s: %w", display(dir), p)
	}
	if err != nil {
		return fmt.Errorf("kustomize build %s: %w", display(dir), err)
	}
	if limit := maxObjects(opts); limit > 0 && resources.Size() > limit {
		return fmt.Errorf("kustomize build %s: %w", display(dir), tooManyObjects(limit))
	}
	for i, r := range resources.Resources() {
		js, err := r.MarshalJSON()
		if err != nil {
			return fmt.Errorf("kustomize build %s: %s: %w", display(dir), r.CurId(), err)
		}
		u, err := decodeObject(js)
		if err != nil {
			return fmt.Errorf("kustomize build %s: object %d (%s): %w", display(dir), i+1, objectName(js), err)
		}
		each(js, u)
	}
	return nil
}

// kustomizeBuilds serialises kustomize builds in this process: kustomize
// keeps the OpenAPI schema a kustomization names (openapi:) in a global of
// kyaml's, which one build would set under another, and which outlives
// the build that set it.
var kustomizeBuilds sync.Mutex

// runKustomize runs k on dir with kyaml's built-in schema in effect, and
// leaves it so.
func runKustomize(k *krusty.Kustomizer, fsys filesys.FileSystem, dir string) (resmap.ResMap, error) {
	kustomizeBuilds.Lock()
	defer kustomizeBuilds.Unlock()
	defaultSchema()
	defer defaultSchema()
	return k.Run(fsys, dir)
}

// defaultSchema puts kyaml's built-in OpenAPI schema back in effect when a
// build chose another (resetting costs a parse of the built-in one).
func defaultSchema() {
	if openapi.GetSchemaVersion() != openapi.DefaultOpenAPI {
		openapi.ResetOpenAPI()
	}
}
