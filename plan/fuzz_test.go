package plan

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
)

// FuzzPlanfile feeds arbitrary bytes to the planfile reader: it never
// panics, refuses what is not a planfile of a known format version or does
// not match its digest, and what it accepts writes back to a planfile that
// reads the same.
func FuzzPlanfile(f *testing.F) {
	p := examplePlan(f)
	var good bytes.Buffer
	if err := WritePlanfile(&good, p); err != nil {
		f.Fatal(err)
	}
	f.Add(good.Bytes())
	f.Add(bytes.Replace(good.Bytes(), []byte(`"format_version": 1`), []byte(`"format_version": 99`), 1))
	f.Add(bytes.Replace(good.Bytes(), []byte(`"stack": "shop"`), []byte(`"stack": "shoq"`), 1))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"format_version": 1, "changes": [{"action": "delete"}]}`))
	f.Add([]byte(`not json`))
	f.Add([]byte(`{"format_version": 1, "desired": [null]}`))
	f.Add([]byte(`{"format_version": 1, "desired": [{"apiVersion": 1, "kind": [], "metadata": "x"}], "changes": [{"before": {"metadata": {"labels": {"a": 1}}}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ReadPlanfile(bytes.NewReader(data), testKeyOf)
		if err != nil {
			return
		}
		var again bytes.Buffer
		if err := WritePlanfile(&again, p); err != nil {
			t.Fatalf("an accepted plan does not write back: %v", err)
		}
		q, err := ReadPlanfile(&again, testKeyOf)
		if err != nil || q.Digest != p.Digest {
			t.Fatalf("an accepted plan does not read back the same: %v", err)
		}
	})
}

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
		in := Input{Stack: "fuzz", Objects: desired, Key: object.HashKey("salt"), Mode: []DiffMode{DiffAuto, DiffServer, DiffLocal}[mode%3],
			Options: Options{Namespace: "fuzz", Prune: true, MaxPrunePercent: 50}}
		for _, u := range live {
			if v, ok := u.Object["apiVersion"].(string); ok {
				in.Inventory = append(in.Inventory, InventoryObject{Ref: object.RefOf(u), APIVersion: v})
			}
		}
		res, err := NewPlanner(&memCluster{live: live}, PlannerOptions{Concurrency: 4}).Compute(context.Background(), in)
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
		_ = KnownFailures(p)
		if err := RenderText(io.Discard, p, TextOptions{}); err != nil {
			t.Errorf("text: %v", err)
		}
		if err := RenderJSON(io.Discard, p); err != nil {
			t.Errorf("JSON: %v", err)
		}
		_ = RenderMarkdown(io.Discard, p, DefaultMarkdownOptions())
		var planfile bytes.Buffer
		if err := WritePlanfile(&planfile, p); err != nil {
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
