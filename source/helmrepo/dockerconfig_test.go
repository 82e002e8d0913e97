package helmrepo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseDockerConfig(t *testing.T) {
	rows := []struct {
		name, config string
		want         map[string]dockerAuth
		err          string
	}{
		{name: "auth", config: `{"auths": {"registry.example.com": {"auth": "Y2k6czNjcjN0"}}}`, want: map[string]dockerAuth{"registry.example.com": {Username: "ci", Password: "s3cr3t"}}},
		{name: "username and password, host with port", config: `{"auths": {"127.0.0.1:5000": {"username": "u", "password": "p:w"}}}`, want: map[string]dockerAuth{"127.0.0.1:5000": {Username: "u", Password: "p:w"}}},
		{name: "URL key", config: `{"auths": {"https://Index.Docker.io/v1/": {"auth": "dTpw"}}}`, want: map[string]dockerAuth{"index.docker.io": {Username: "u", Password: "p"}}},
		{name: "helpers only are not run", config: `{"credsStore": "desktop", "credHelpers": {"r.example.com": "ecr-login"}, "auths": {"r.example.com": {}}}`, want: map[string]dockerAuth{}},
		{name: "auth not base64", config: `{"auths": {"r": {"auth": "%%%"}}}`, err: `auths["r"].auth is not base64`},
		{name: "auth without a colon", config: `{"auths": {"r": {"auth": "dXNlcg=="}}}`, err: "user:password"},
		{name: "not JSON", config: `auths: {}`, err: "not a Docker config file"},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			got, err := parseDockerConfig([]byte(row.config))
			if row.err != "" {
				if err == nil || !strings.Contains(err.Error(), row.err) {
					t.Fatalf("error %v, want %q", err, row.err)
				}
				if strings.Contains(err.Error(), "s3cr3t") {
					t.Fatal("the error holds the password")
				}
				return
			}
			if err != nil || len(got) != len(row.want) {
				t.Fatalf("%v, %v; want %v", got, err, row.want)
			}
			for h, a := range row.want {
				if got[h] != a {
					t.Errorf("%s: %+v, want %+v", h, got[h], a)
				}
			}
		})
	}
}

// TestFromEnvDockerConfig: a Docker config file's credentials go to its
// host's OCI registries only, and GANTRY_HELM_* win for their origin.
func TestFromEnvDockerConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"auths": {"r.example.com:5000": {"auth": "ZDpkcA=="}, "shared.example.com": {"auth": "ZDpkcA=="}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
	t.Setenv("GANTRY_HELM_REPOSITORY", "oci://shared.example.com/charts")
	t.Setenv("GANTRY_HELM_USERNAME", "env")
	t.Setenv("GANTRY_HELM_PASSWORD", "ep")
	opts, err := FromEnv(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rows := []struct{ url, user, pass string }{
		{"oci://r.example.com:5000/apps/web", "d", "dp"},
		{"oci://R.example.com:5000/apps/web", "d", "dp"},
		{"oci://r.example.com/apps/web", "", ""},   // another port
		{"oci://r.example.com:50000/apps", "", ""}, // not a prefix match
		{"https://r.example.com:5000/charts", "", ""},
		{"oci://shared.example.com/charts", "env", "ep"},
	}
	for _, row := range rows {
		if u, p := opts.Credentials(row.url); u != row.user || p != row.pass {
			t.Errorf("%s: %q %q, want %q %q", row.url, u, p, row.user, row.pass)
		}
	}
}
