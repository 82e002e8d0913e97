package helm

import (
	"fmt"
	"strings"

	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
)

// Dependency is a dependency of a chart that its charts/ does not hold:
// what to fetch, from where.
type Dependency struct {
	// Name is the chart's name in its repository (not its alias).
	Name string `json:"name"`
	// Version is Chart.lock's exact version when the lock names the
	// dependency, else Chart.yaml's version or range.
	Version string `json:"version"`
	// Repository is the repository's URL, as Chart.yaml gives it.
	Repository string `json:"repository"`
	// Locked says Version came from Chart.lock.
	Locked bool `json:"locked,omitempty"`
}

// Missing returns the dependencies Chart.yaml lists that charts/ does not
// hold (matched by name, as `helm template` matches them), each with the
// version to fetch. Subcharts' own dependencies are theirs: a packaged
// dependency carries its charts/.
func Missing(ch *chartv2.Chart) []Dependency {
	held := map[string]bool{}
	for _, d := range ch.Dependencies() {
		held[d.Name()] = true
	}
	locked := map[string]*chartv2.Dependency{}
	if ch.Lock != nil {
		for _, d := range ch.Lock.Dependencies {
			if d != nil {
				locked[d.Name] = d
			}
		}
	}
	var out []Dependency
	for _, d := range ch.Metadata.Dependencies {
		if d == nil || held[d.Name] {
			continue
		}
		dep := Dependency{Name: d.Name, Version: d.Version, Repository: d.Repository}
		if l, ok := locked[d.Name]; ok && l.Version != "" && l.Repository == d.Repository {
			dep.Version, dep.Locked = l.Version, true
		}
		out = append(out, dep)
	}
	return out
}

// AddDependency attaches sub, a dependency fetched for ch, as a subchart,
// refusing one that is not the chart the dependency names.
func AddDependency(ch *chartv2.Chart, dep Dependency, sub *chartv2.Chart) error {
	if sub.Name() != dep.Name {
		return fmt.Errorf("dependency %s from %s: the archive holds chart %s", dep.Name, dep.Repository, sub.Name())
	}
	ch.AddDependency(sub)
	return nil
}

// checkDependencies refuses a chart whose charts/ (or a subchart's) lacks
// a dependency Chart.yaml lists, as `helm template` and `helm install` do
// for the chart itself: rendering without it would leave its objects out
// silently.
func checkDependencies(ch *chartv2.Chart) error {
	for _, sub := range ch.Dependencies() {
		if err := checkDependencies(sub); err != nil {
			return err
		}
	}
	missing := Missing(ch)
	if len(missing) == 0 {
		return nil
	}
	names := make([]string, len(missing))
	for i, d := range missing {
		names[i] = d.Name + " " + d.Version + " (" + d.Repository + ")"
	}
	return fmt.Errorf("chart %s lists dependencies its charts/ does not hold: %s; vendor them (helm dependency build, and commit charts/), or let gantry fetch them from repositories the stack allows (source.helm.dependencyRepositories)",
		ch.Name(), strings.Join(names, ", "))
}
