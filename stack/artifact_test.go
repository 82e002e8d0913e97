package stack

import (
	"strings"
	"testing"
)

func TestArtifactProblems(t *testing.T) {
	d := "sha256:" + strings.Repeat("a", 64)
	rows := []struct {
		a    Artifact
		want string // "" none
	}{
		{Artifact{URL: "oci://r.example.com/apps/web", Tag: "v1"}, ""},
		{Artifact{URL: "oci://r.example.com/apps/web", Semver: ">=1.0.0 <2"}, ""},
		{Artifact{URL: "oci://r.example.com/apps/web", Digest: d}, ""},
		{Artifact{URL: "oci://127.0.0.1:5000/web", Tag: "latest"}, ""},
		{Artifact{URL: "oci://r.example.com/my_apps/web-app", Tag: "1.0.0_build.1"}, ""},
		{Artifact{URL: "https://r.example.com/web", Tag: "v1"}, "write oci://HOST/PATH"},
		{Artifact{URL: "oci://r.example.com", Tag: "v1"}, "write oci://HOST/PATH"},
		{Artifact{URL: "oci://zot/manifests", Tag: "v1"}, "give the registry's host a dot or a port"},
		{Artifact{URL: "oci://localhost/manifests", Tag: "v1"}, ""},
		{Artifact{URL: "oci://zot:5000/manifests", Tag: "v1"}, ""},
		{Artifact{URL: "oci://r.example.com/web:v1", Tag: "v1"}, "url:"},
		{Artifact{URL: "oci://r.example.com/Web", Tag: "v1"}, "lowercase path"},
		{Artifact{URL: "oci://r.example.com/web@" + d, Digest: d}, "without a tag, a digest"},
		{Artifact{URL: "oci://user:pw@r.example.com/web", Tag: "v1"}, "or credentials"},
		{Artifact{URL: "oci://r.example.com/web"}, "give a tag, a semver range or a digest"},
		{Artifact{URL: "oci://r.example.com/web", Tag: "v1", Digest: d}, "give one of"},
		{Artifact{URL: "oci://r.example.com/web", Digest: "sha256:abc"}, "64 lowercase hex"},
		{Artifact{URL: "oci://r.example.com/web", Tag: "a/b"}, "not an OCI tag"},
		{Artifact{URL: "oci://r.example.com/web", Tag: ".hidden"}, "not an OCI tag"},
		{Artifact{URL: "oci://r.example.com/web", Semver: "not a range"}, "semver:"},
	}
	for _, row := range rows {
		got := strings.Join(row.a.Problems(), "; ")
		if (row.want == "") != (got == "") || !strings.Contains(got, row.want) {
			t.Errorf("%+v: problems %q, want %q", row.a, got, row.want)
		}
	}
}

func TestParseArtifactRef(t *testing.T) {
	d := "sha256:" + strings.Repeat("b", 64)
	rows := []struct {
		ref  string
		want Artifact
	}{
		{"oci://r.example.com/apps/web:v1.2.3", Artifact{URL: "oci://r.example.com/apps/web", Tag: "v1.2.3"}},
		{"oci://127.0.0.1:5000/web:latest", Artifact{URL: "oci://127.0.0.1:5000/web", Tag: "latest"}},
		{"oci://127.0.0.1:5000/web", Artifact{URL: "oci://127.0.0.1:5000/web"}},
		{"oci://r.example.com/web@" + d, Artifact{URL: "oci://r.example.com/web", Digest: d}},
		{"oci://127.0.0.1:5000/web@" + d, Artifact{URL: "oci://127.0.0.1:5000/web", Digest: d}},
		{"oci://127.0.0.1:5000", Artifact{URL: "oci://127.0.0.1:5000"}},
	}
	for _, row := range rows {
		if got := ParseArtifactRef(row.ref); got != row.want {
			t.Errorf("%s: %+v, want %+v", row.ref, got, row.want)
		}
	}
}
