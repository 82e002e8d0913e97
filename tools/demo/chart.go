package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	repo "helm.sh/helm/v4/pkg/repo/v1"
)

// chart deploys the corpus's podinfo chart from a Helm repository the demo
// serves on loopback (packaged and indexed with the Helm SDK, as `helm
// package` and `helm repo index` make them): applied ad hoc, then planned
// again, with no changes and the chart taken from gantry's cache.
func (d *demo) chart(ctx context.Context) (err error) {
	step("Serve a Helm repository on loopback: the corpus's podinfo chart, packaged and indexed")
	dir := filepath.Join(d.work, "helm-repo")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ch, err := loader.LoadDir(filepath.Join(d.root, "testdata", "corpus", "charts", "podinfo"))
	if err != nil {
		return err
	}
	if _, err := chartutil.Save(ch, dir); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(dir))}
	go func() { _ = srv.Serve(ln) }()
	defer func() { err = errors.Join(err, srv.Close()) }()
	url := "http://" + ln.Addr().String()
	idx, err := repo.IndexDirectory(dir, url)
	if err != nil {
		return err
	}
	if err := idx.WriteFile(filepath.Join(dir, "index.yaml"), 0o644); err != nil {
		return err
	}
	if err := d.command(ctx, d.root, "kubectl", "create", "namespace", "demo-chart"); err != nil {
		return err
	}
	chart := []string{"--chart-repo", url, "--chart", "podinfo", "--chart-version", "6.14.x", "--namespace", "demo-chart"}
	step("Apply the chart ad hoc (the version a range, resolved against the repository's index)")
	if err := d.gantryCmd(ctx, append([]string{"apply", "--auto-approve", "--wait=false"}, chart...)...); err != nil {
		return err
	}
	step("Plan it again: no changes, the pinned archive from gantry's cache")
	return d.gantryCmd(ctx, append([]string{"plan"}, chart...)...)
}
