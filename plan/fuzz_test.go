package plan_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"

	"github.com/gantryops/gantry/internal/crash"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/plan/planfile"
	"github.com/gantryops/gantry/plan/render"
)

// FuzzPlan plans objects of any shape, desired and live, against gantry's
// Cluster held in memory (memCluster), in each diff mode. The seeds in
// testdata/fuzzplan put values of the wrong type everywhere the planner
// reads: CRD versions and names, labels, annotations, managed fields,
// status, lists. Planning never panics (a panic it recovered counts as
// one), refuses what it cannot read with an error, and a plan it returns
// holds only valid manifests and renders in every format.
// `go test -fuzz FuzzPlan ./plan` explores further.
func FuzzPlan(f *testing.F) {
	seeds, err := filepath.Glob("testdata/fuzzplan/*.yaml")
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seeds in testdata/fuzzplan: %v", err)
	}
	for i, name := range seeds {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		if _, _, ok := fuzzObjects(data); !ok {
			f.Fatalf("%s is not a seed: want a mapping with lists desired and live", name)
		}
		for mode := range 3 {
			f.Add(data, uint8(i+mode))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		desired, live, ok := fuzzObjects(data)
		if !ok {
			return
		}
		in := plan.Input{Stack: "fuzz", Objects: desired, Key: object.HashKey("salt"), Mode: []plan.DiffMode{plan.DiffAuto, plan.DiffServer, plan.DiffLocal}[mode%3],
			Options: plan.Options{Namespace: "fuzz", Prune: true, MaxPrunePercent: 50}}
		for _, u := range live {
			if v, ok := u.Object["apiVersion"].(string); ok {
				in.Inventory = append(in.Inventory, plan.InventoryObject{Ref: object.RefOf(u), APIVersion: v})
			}
		}
		res, err := plan.NewPlanner(plan.NewMemCluster(live), plan.PlannerOptions{Concurrency: 4}).Compute(context.Background(), in)
		var ce *crash.Error
		if errors.As(err, &ce) {
			t.Fatalf("planning panicked: %v\n%s", ce.Value, ce.Stack)
		}
		if err != nil {
			return
		}
		p := res.Plan
		for _, u := range p.Desired {
			if err := object.Validate(u); err != nil {
				t.Errorf("the plan holds a manifest Validate refuses (%v): %v", err, u.Object)
			}
		}
		_ = plan.KnownFailures(p)
		if err := render.Text(io.Discard, p, render.TextOptions{}); err != nil {
			t.Errorf("text: %v", err)
		}
		if err := render.JSON(io.Discard, p); err != nil {
			t.Errorf("JSON: %v", err)
		}
		_ = render.Markdown(io.Discard, p, render.DefaultMarkdownOptions())
		var file bytes.Buffer
		if err := planfile.Write(&file, p); err != nil {
			t.Errorf("planfile: %v", err)
		}
	})
}

// fuzzObjects reads a fuzz input: YAML (or JSON) with lists desired and
// live of objects. Elements that are not mappings are left out: an
// unstructured object is a mapping.
func fuzzObjects(data []byte) (desired, live []*unstructured.Unstructured, ok bool) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, nil, false
	}
	var doc map[string]any // as unstructured content: integers are int64
	if err := utiljson.Unmarshal(js, &doc); err != nil || doc == nil {
		return nil, nil, false
	}
	d, okD := doc["desired"].([]any)
	l, okL := doc["live"].([]any)
	if !okD && !okL {
		return nil, nil, false
	}
	objects := func(l []any) []*unstructured.Unstructured {
		var out []*unstructured.Unstructured
		for _, v := range l {
			if m, ok := v.(map[string]any); ok {
				out = append(out, &unstructured.Unstructured{Object: m})
			}
		}
		return out
	}
	return objects(d), objects(l), true
}
