package stack

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/Masterminds/semver/v3"
	"go.yaml.in/yaml/v3"
)

// Artifact is an OCI artifact of manifests (`flux push artifact`, or a
// tarball pushed with `oras push`): gantry.yaml's source.artifact, as
// Flux's OCIRepository names one (url, and one of tag, semver, digest;
// mediaType as its layerSelector's).
type Artifact struct {
	// URL is oci://HOST/PATH: the repository, without a tag or digest.
	URL string
	// Tag, Semver (a range over the tags: the highest match) or Digest
	// (sha256:…): one of them.
	Tag, Semver, Digest string
	// MediaType picks the layer to extract (empty: the first).
	MediaType string
}

// Asked is what a names, as the record shows it: the tag, the range or
// the digest.
func (a Artifact) Asked() string {
	switch {
	case a.Digest != "":
		return a.Digest
	case a.Semver != "":
		return a.Semver
	}
	return a.Tag
}

var (
	// The distribution spec's grammar: a host[:port], then path
	// components of lowercase alphanumerics and separators.
	ociRepository = regexp.MustCompile(`^oci://[A-Za-z0-9.-]+(:[0-9]+)?(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)+$`)
	ociTag        = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)
	ociDigest     = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// Problems checks a's form, each problem naming its field. A pure
// function: gantry.yaml's checks, the ad hoc flags' and the registry
// client's share it.
func (a Artifact) Problems() []string {
	var out []string
	if !ociRepository.MatchString(strings.TrimSuffix(a.URL, "/")) {
		out = append(out, fmt.Sprintf("url: %q: write oci://HOST/PATH (lowercase path), without a tag, a digest or credentials", a.URL))
	} else if host, _, _ := strings.Cut(strings.TrimPrefix(a.URL, "oci://"), "/"); !strings.ContainsAny(host, ".:") && host != "localhost" {
		out = append(out, fmt.Sprintf("url: %q: give the registry's host a dot or a port (zot.registry.svc.cluster.local, zot:5000): registry clients read a first part without either as a path on Docker Hub", a.URL))
	}
	n := 0
	for _, s := range []string{a.Tag, a.Semver, a.Digest} {
		if s != "" {
			n++
		}
	}
	switch {
	case n == 0:
		out = append(out, "give a tag, a semver range or a digest: an artifact is never taken at whatever is newest by default")
	case n > 1:
		out = append(out, "give one of tag, semver and digest")
	}
	if a.Digest != "" && !ociDigest.MatchString(a.Digest) {
		out = append(out, fmt.Sprintf("digest: %q: write sha256: and 64 lowercase hex digits", a.Digest))
	}
	if a.Tag != "" && !ociTag.MatchString(a.Tag) {
		out = append(out, fmt.Sprintf("tag: %q is not an OCI tag", a.Tag))
	}
	if a.Semver != "" {
		if _, err := semver.NewConstraint(a.Semver); err != nil {
			out = append(out, fmt.Sprintf("semver: %q: %v", a.Semver, err))
		}
	}
	return out
}

// ParseArtifactRef reads an artifact's reference as `flux pull artifact`
// and `oras pull` take it: oci://HOST/PATH:TAG or oci://HOST/PATH@DIGEST
// (or neither: the caller adds a semver range). Problems says what is
// wrong with the result.
func ParseArtifactRef(ref string) Artifact {
	if repo, digest, ok := strings.Cut(ref, "@"); ok {
		return Artifact{URL: repo, Digest: digest}
	}
	slash := strings.LastIndex(ref, "/")
	if colon := strings.LastIndex(ref, ":"); colon > slash && slash > len("oci://") {
		return Artifact{URL: ref[:colon], Tag: ref[colon+1:]}
	}
	return Artifact{URL: ref}
}

// artifact reads source.artifact.
func (p *parser) artifact(n *yaml.Node, path string) *Artifact {
	a := &Artifact{}
	p.mapping(n, path, map[string]func(*yaml.Node, string){
		"url":       func(n *yaml.Node, path string) { a.URL = p.str(n, path) },
		"tag":       func(n *yaml.Node, path string) { a.Tag = p.str(n, path) },
		"semver":    func(n *yaml.Node, path string) { a.Semver = p.str(n, path) },
		"digest":    func(n *yaml.Node, path string) { a.Digest = p.str(n, path) },
		"mediaType": func(n *yaml.Node, path string) { a.MediaType = p.str(n, path) },
	})
	if n.Kind == yaml.MappingNode {
		for _, msg := range a.Problems() {
			p.fail(n, path, "%s", msg)
		}
	}
	return a
}
