package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/source"
	"github.com/gantryops/gantry/source/helm"
	"github.com/gantryops/gantry/stack"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// capabler is a cluster that tells a chart's render about itself
// (*kube.Cluster, *kube.Cache).
type capabler interface {
	Capabilities(ctx context.Context) (kubeVersion string, apiVersions []string, err error)
}

// capabilities gives a chart's render the cluster's .Capabilities, for a
// plan against the cluster; a local plan (--diff=local) and an untrusted
// one (a review) keep the fixed, documented set (docs/sources.md).
func capabilities(ctx context.Context, req PlanRequest, h *source.HelmOptions) error {
	c, ok := req.Cluster.(capabler)
	if !ok || h == nil || req.Untrusted || req.Mode == plan.DiffLocal {
		return nil
	}
	v, apis, err := c.Capabilities(ctx)
	if err != nil {
		return fmt.Errorf("the cluster's capabilities, for the chart's render: %w", err)
	}
	h.KubeVersion, h.APIVersions = v, apis
	return nil
}

// renderOptions are the safe defaults with what the stack allows.
func renderOptions(s stack.Stack) source.RenderOptions {
	opts := source.DefaultRenderOptions()
	opts.AllowRemoteBases = s.Source.AllowRemoteBases
	if s.Source.MaxRenderBytes > 0 {
		opts.MaxRenderBytes = s.Source.MaxRenderBytes
	}
	opts.Helm = &source.HelmOptions{ReleaseName: s.Name, Namespace: s.Target.Namespace}
	if h := s.Source.Helm; h != nil {
		if h.ReleaseName != "" {
			opts.Helm.ReleaseName = h.ReleaseName
		}
		opts.Helm.ValuesFiles, opts.Helm.Values = h.ValuesFiles, h.Values
	}
	return opts
}

// render fetches the stack's ref, verifies the commit's signature when the
// stack asks for it, and renders its path.
func (e *Engine) render(ctx context.Context, s stack.Stack, opts source.RenderOptions, verify bool) (plan.Source, []*unstructured.Unstructured, error) {
	var deps []string
	if !opts.SandboxCharts { // an untrusted render fetches nothing
		opts.Dependencies = e.dependencies(s, &deps)
	}
	src, objs, err := e.renderSource(ctx, s, opts, verify)
	src.Dependencies = deps
	return src, objs, err
}

// renderSource renders the stack's source, whatever its kind.
func (e *Engine) renderSource(ctx context.Context, s stack.Stack, opts source.RenderOptions, verify bool) (plan.Source, []*unstructured.Unstructured, error) {
	if s.Source.Chart != nil {
		return e.renderChart(ctx, s, opts)
	}
	if s.Source.Artifact != nil {
		return e.renderArtifact(ctx, s, opts)
	}
	commit, err := e.fetcher.Fetch(ctx, s.Source.Repo, s.Source.Ref)
	if err != nil {
		return plan.Source{}, nil, err
	}
	if verify && s.Verify != nil {
		if err := e.verify(ctx, s, commit); err != nil {
			return plan.Source{}, nil, err
		}
	}
	opts.Logger = e.log
	rev, err := commit.Render(ctx, s.Source.Path, opts)
	if err != nil {
		return plan.Source{}, nil, err
	}
	e.log.Debug("rendered", "stack", s.Name, "commit", rev.Commit, "objects", len(rev.Objects))
	src := plan.Source{Repo: commit.Repo, Ref: s.Source.Ref, Commit: rev.Commit, Path: s.Source.Path}
	return src, rev.Objects, nil
}

// renderChart resolves the stack's chart in its Helm repository, pulls it
// (from the cache by digest when it can) and renders it. The plan's source
// is the repository, the version asked for, the chart's name, and its
// digest in place of a commit.
func (e *Engine) renderChart(ctx context.Context, s stack.Stack, opts source.RenderOptions) (plan.Source, []*unstructured.Unstructured, error) {
	c := s.Source.Chart
	if e.charts == nil {
		return plan.Source{}, nil, fmt.Errorf("stack %s takes chart %s from %s, and this engine fetches no Helm repositories", s.Name, c.Name, c.Repository)
	}
	v, err := e.charts.Resolve(ctx, c.Repository, c.Name, c.Version)
	if err != nil {
		return plan.Source{}, nil, err
	}
	archive, err := e.charts.Pull(ctx, v)
	if err != nil {
		return plan.Source{}, nil, err
	}
	objs, err := source.RenderChartArchive(ctx, archive, v.Name+"-"+v.Version, opts)
	if err != nil {
		return plan.Source{}, nil, err
	}
	rev, err := source.NewRevision(v.Digest, objs)
	if err != nil {
		return plan.Source{}, nil, err
	}
	e.log.Debug("rendered", "stack", s.Name, "chart", v.Name, "version", v.Version, "digest", v.Digest, "objects", len(rev.Objects))
	return plan.Source{Kind: plan.SourceHelmRepository, Repo: v.Repo, Ref: c.Version, Commit: v.Digest, Path: v.Name, Version: v.Version}, rev.Objects, nil
}

// renderArtifact resolves the stack's OCI artifact to its digest, pulls
// it (from the store by digest when it can) and renders its path as a
// commit's. The plan's source is the repository, what was asked, the
// tag resolved, and the manifest's digest in place of a commit.
func (e *Engine) renderArtifact(ctx context.Context, s stack.Stack, opts source.RenderOptions) (plan.Source, []*unstructured.Unstructured, error) {
	a := s.Source.Artifact
	if e.arts == nil {
		return plan.Source{}, nil, fmt.Errorf("stack %s takes artifact %s, and this engine fetches no OCI artifacts", s.Name, a.URL)
	}
	resolved, err := e.arts.Resolve(ctx, *a)
	if err != nil {
		return plan.Source{}, nil, err
	}
	commit, err := e.arts.Pull(ctx, resolved)
	if err != nil {
		return plan.Source{}, nil, err
	}
	opts.Logger = e.log
	rev, err := commit.Render(ctx, s.Source.Path, opts)
	if err != nil {
		return plan.Source{}, nil, err
	}
	e.log.Debug("rendered", "stack", s.Name, "artifact", a.URL, "version", resolved.Version, "digest", resolved.Digest, "objects", len(rev.Objects))
	return plan.Source{Kind: plan.SourceOCIArtifact, Repo: a.URL, Ref: a.Asked(), Commit: resolved.Digest, Path: s.Source.Path, Version: resolved.Version, MediaType: a.MediaType}, rev.Objects, nil
}

// dependencies gives a chart's render a fetcher of the dependencies its
// charts/ lacks, from the repositories the stack allows only
// (source.helm.dependencyRepositories), resolved and pulled (cached by
// digest) through the Charts port; each one taken is added to fetched
// ("NAME VERSION DIGEST"), for the plan's source. Nil when the stack
// allows none: such a chart fails to render, naming what it lacks.
func (e *Engine) dependencies(s stack.Stack, fetched *[]string) func(context.Context, helm.Dependency) ([]byte, error) {
	h := s.Source.Helm
	if e.charts == nil || h == nil || len(h.DependencyRepositories) == 0 {
		return nil
	}
	var mu sync.Mutex
	return func(ctx context.Context, d helm.Dependency) ([]byte, error) {
		if !allowedRepository(d.Repository, h.DependencyRepositories) {
			return nil, fmt.Errorf("its repository %q is not one stack %s allows (source.helm.dependencyRepositories: %s)", d.Repository, s.Name, strings.Join(h.DependencyRepositories, ", "))
		}
		v, err := e.charts.Resolve(ctx, d.Repository, d.Name, d.Version)
		if err != nil {
			return nil, err
		}
		data, err := e.charts.Pull(ctx, v)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		*fetched = append(*fetched, v.Name+" "+v.Version+" "+v.Digest)
		mu.Unlock()
		return data, nil
	}
}

// allowedRepository reports whether repo (a dependency's, as Chart.yaml
// names it) is one of allowed: the same URL, a trailing slash aside.
func allowedRepository(repo string, allowed []string) bool {
	repo = strings.TrimSuffix(repo, "/")
	return repo != "" && slices.ContainsFunc(allowed, func(a string) bool { return strings.TrimSuffix(a, "/") == repo })
}

// valuesDigest is the keyed digest of what a chart was rendered with
// besides its source (gantry.yaml's source.helm: release name, values
// files, inline values), for the record: keyed, because values may hold
// secrets. Empty for a stack without source.helm.
func valuesDigest(key object.HashKey, s stack.Stack) (string, error) {
	h := s.Source.Helm
	if h == nil {
		return "", nil
	}
	b, err := json.Marshal(struct {
		ReleaseName string         `json:"releaseName"`
		ValuesFiles []string       `json:"valuesFiles"`
		Values      map[string]any `json:"values"`
	}{h.ReleaseName, h.ValuesFiles, h.Values})
	if err != nil {
		return "", fmt.Errorf("stack %s: source.helm: %w", s.Name, err)
	}
	sum, err := key.Sum("helm-values", b)
	if err != nil {
		return "", err
	}
	return sum.Keyed(), nil
}
