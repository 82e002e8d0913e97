package stack_test

import (
	"testing"
	"time"

	"github.com/gantryops/gantry/stack"
)

// FuzzParse feeds arbitrary bytes to the gantry.yaml loader: it never
// panics, and every stack it accepts has a valid name and a repository.
func FuzzParse(f *testing.F) {
	head := "apiVersion: gantry.dev/v1alpha1\nkind: Config\nstacks:\n"
	for _, seed := range []string{
		head + "  - name: a\n    source: {repo: r}\n",
		head + "  - name: a\n    source: {repo: r}\n    windows: [{kind: deny, schedule: '0 1 * * *', duration: 1h, timeZone: UTC}]\n",
		head + "  - name: a\n    source: {repo: r}\n    windows: [{kind: deny, schedule: '61 * * * *', duration: 1h}]\n",
		head + "  - name: a\n    source: {repo: r}\n    schedule: {interval: 1m, jitter: 2m}\n",
		head + "  - {name: a, source: {repo: r}, drift: report, approval: manual}\n",
		head + "  - *x\n",
		"apiVersion: [\n",
		"",
		"stacks: !!binary aGVsbG8=\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := stack.Parse("gantry.yaml", data)
		if err != nil {
			return
		}
		for _, s := range cfg.Stacks {
			if s.Name == "" || s.Source.Repo == "" {
				t.Errorf("accepted a stack without a name or repository: %+v", s)
			}
			at := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
			s.ApplyAllowed(at)
			s.NextWindowChange(at, 7*24*time.Hour)
		}
	})
}
