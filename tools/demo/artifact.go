package main

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/gantryops/gantry/internal/ocipush"
)

// artifact deploys the corpus's podinfo kustomization from an OCI
// registry the demo serves on loopback (go-containerregistry's
// implementation of the distribution API), pushed as `flux push artifact
// --path=./kustomize` pushes it: applied ad hoc by tag, then planned
// again by digest, with no changes and no request to the registry.
func (d *demo) artifact(ctx context.Context) (err error) {
	step("Serve an OCI registry on loopback; push the corpus's podinfo kustomization as a Flux artifact")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	go func() { _ = srv.Serve(ln) }()
	defer func() { err = errors.Join(err, srv.Close()) }()
	files := map[string]string{}
	dir := filepath.Join(d.root, "testdata", "corpus", "podinfo", "kustomize")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		files[e.Name()] = string(data)
	}
	img, err := ocipush.Flux(files, "https://github.com/stefanprodan/podinfo", "6.14.1")
	if err != nil {
		return err
	}
	repo := ln.Addr().String() + "/manifests/podinfo"
	tag, err := name.NewTag(repo + ":6.14.1")
	if err != nil {
		return err
	}
	if err := remote.Write(tag, img, remote.WithContext(ctx)); err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	if err := d.command(ctx, d.root, "kubectl", "create", "namespace", "demo-artifact"); err != nil {
		return err
	}
	step("Apply the artifact ad hoc, by tag")
	common := []string{"--stack", "podinfo-artifact", "--namespace", "demo-artifact"}
	if err := d.gantryCmd(ctx, append([]string{"apply", "--auto-approve", "--wait=false", "--artifact", "oci://" + repo + ":6.14.1"}, common...)...); err != nil {
		return err
	}
	step("Plan it again by digest: no changes, the artifact from gantry's store")
	return d.gantryCmd(ctx, append([]string{"plan", "--artifact", "oci://" + repo + "@" + digest.String()}, common...)...)
}
