package stack_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gantryops/gantry/sensitive"
	"github.com/gantryops/gantry/stack"
)

func TestLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "gantry.yaml")
	err := os.WriteFile(path, []byte(`apiVersion: gantry.dev/v1alpha1
kind: Config
stacks:
  - name: shop
    source:
      repo: ./deploy-repo
      ref: v1.2.0
      path: overlays/prod
      maxRenderBytes: 512Mi
    target:
      namespace: shop
    prune: false
    maxPrunePercent: 50
    allowEmpty: true
    forceConflicts: true
    approval: manual
    schedule:
      interval: 1m
      jitter: 5s
    drift: report
    windows:
      - kind: deny
        schedule: "0 22 * * 5"
        duration: 60h
        timeZone: Europe/Berlin
    sensitive:
      - kind: ConfigMap
        name: db
        fields: [data.password, "data['app.properties']"]
      - {group: example.com, kind: Widget, fields: [spec.token]}
  - name: infra
    source:
      repo: https://github.com/acme/infra.git
      path: charts/infra
      helm:
        releaseName: infra-prod
        valuesFiles: [env/prod.yaml]
        dependencyRepositories: [https://charts.example.com/stable, oci://registry.example.com/charts]
        values:
          replicaCount: 3
          image: {tag: "1.2"}
  - name: ingress
    source:
      chart: {repository: "https://kubernetes.github.io/ingress-nginx", name: ingress-nginx, version: 4.15.x}
      helm: {values: {controller: {replicaCount: 2}}}
  - name: mirror
    source:
      repo: http://git.lan/infra.git
      allowInsecureHTTPCredentials: true
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := stack.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []stack.Stack{
		{
			Name:   "shop",
			Source: stack.Source{Repo: filepath.Join(dir, "deploy-repo"), Ref: "v1.2.0", Path: "overlays/prod", MaxRenderBytes: 512 << 20},
			Target: stack.Target{Namespace: "shop"}, Prune: false, MaxPrunePercent: 50, AllowEmpty: true,
			ForceConflicts: true, Approval: stack.ApprovalManual, Drift: stack.DriftReport,
			Schedule: stack.Schedule{Interval: time.Minute, Jitter: 5 * time.Second},
			Windows:  []stack.Window{{Kind: stack.WindowDeny, Schedule: "0 22 * * 5", Duration: 60 * time.Hour, TimeZone: "Europe/Berlin"}},
			Sensitive: []sensitive.Rule{{Kind: "ConfigMap", Name: "db", Fields: []string{"data.password", "data['app.properties']"}},
				{Group: "example.com", Kind: "Widget", Fields: []string{"spec.token"}}},
		},
		{
			// Every default, and a chart.
			Name: "infra",
			Source: stack.Source{Repo: "https://github.com/acme/infra.git", Ref: "HEAD", Path: "charts/infra",
				Helm: &stack.Helm{ReleaseName: "infra-prod", ValuesFiles: []string{"env/prod.yaml"}, DependencyRepositories: []string{"https://charts.example.com/stable", "oci://registry.example.com/charts"},
					Values: map[string]any{"replicaCount": float64(3), "image": map[string]any{"tag": "1.2"}}}},
			Prune: true, MaxPrunePercent: 25, Approval: stack.ApprovalAutoUnlessDestructive, Drift: stack.DriftCorrect,
			Schedule: stack.Schedule{Interval: 5 * time.Minute, Jitter: 30 * time.Second},
		},
		{
			Name: "ingress",
			Source: stack.Source{Ref: "HEAD", Path: ".", Chart: &stack.Chart{Repository: "https://kubernetes.github.io/ingress-nginx", Name: "ingress-nginx", Version: "4.15.x"},
				Helm: &stack.Helm{Values: map[string]any{"controller": map[string]any{"replicaCount": float64(2)}}}},
			Prune: true, MaxPrunePercent: 25, Approval: stack.ApprovalAutoUnlessDestructive, Drift: stack.DriftCorrect,
			Schedule: stack.Schedule{Interval: 5 * time.Minute, Jitter: 30 * time.Second},
		},
		{
			Name:   "mirror",
			Source: stack.Source{Repo: "http://git.lan/infra.git", Ref: "HEAD", Path: ".", AllowInsecureHTTPCredentials: true},
			Prune:  true, MaxPrunePercent: 25, Approval: stack.ApprovalAutoUnlessDestructive, Drift: stack.DriftCorrect,
			Schedule: stack.Schedule{Interval: 5 * time.Minute, Jitter: 30 * time.Second},
		},
	}
	if diff := cmp.Diff(want, cfg.Stacks, cmpopts.IgnoreUnexported(stack.Window{})); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	if s, ok := cfg.Find("infra"); !ok || s.Name != "infra" {
		t.Errorf("Find(infra) = %v, %v", s, ok)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	head := "apiVersion: gantry.dev/v1alpha1\nkind: Config\nstacks:\n"
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"unknown stack field", head + "  - name: a\n    source: {repo: r}\n    prun: true\n",
			[]string{"gantry.yaml:6: stacks[0].prun: unknown field", "known fields here: allowEmpty, approval"}},
		{"unknown source field", head + "  - name: a\n    source: {repo: r, branch: main}\n",
			[]string{"gantry.yaml:5: stacks[0].source.branch: unknown field", "ref"}},
		{"bad approval", head + "  - name: a\n    source: {repo: r}\n    approval: sometimes\n",
			[]string{"gantry.yaml:6: stacks[0].approval", `"sometimes" is not a policy`, "auto-unless-destructive"}},
		{"percent out of range", head + "  - name: a\n    source: {repo: r}\n    maxPrunePercent: 150\n",
			[]string{"gantry.yaml:6: stacks[0].maxPrunePercent: 150 is out of range: use 0 to 100"}},
		{"bool as string", head + "  - name: a\n    source: {repo: r}\n    prune: \"yes\"\n",
			[]string{"stacks[0].prune: expected true or false", `the string "yes"`}},
		{"bad duration", head + "  - name: a\n    source: {repo: r}\n    schedule: {interval: soon}\n",
			[]string{"stacks[0].schedule.interval", `"soon" is not a duration`}},
		{"too frequent", head + "  - name: a\n    source: {repo: r}\n    schedule: {interval: 1s}\n",
			[]string{"stacks[0].schedule.interval: 1s is too short"}},
		{"jitter not shorter", head + "  - name: a\n    source: {repo: r}\n    schedule: {interval: 1m, jitter: 2m}\n",
			[]string{"stacks[0].schedule.jitter: 2m0s must be shorter"}},
		{"bad name", head + "  - name: Shop_1\n    source: {repo: r}\n",
			[]string{"gantry.yaml:4: stacks[0].name", "not a valid stack name"}},
		{"missing name and source", head + "  - prune: true\n",
			[]string{"stacks[0].name: missing", "stacks[0].source: missing"}},
		{"missing repo", head + "  - name: a\n    source: {ref: main}\n",
			[]string{"stacks[0].source.repo: missing"}},
		{"insecure credentials for https", head + "  - name: a\n    source: {repo: \"https://git.example.com/a.git\", allowInsecureHTTPCredentials: true}\n",
			[]string{"gantry.yaml:5: stacks[0].source.allowInsecureHTTPCredentials", "only an http:// repository needs it"}},
		{"insecure credentials for a path", head + "  - name: a\n    source:\n      repo: ./r\n      allowInsecureHTTPCredentials: true\n",
			[]string{"gantry.yaml:7: stacks[0].source.allowInsecureHTTPCredentials", "remove it"}},
		{"insecure credentials as a string", head + "  - name: a\n    source: {repo: \"http://git.lan/a.git\", allowInsecureHTTPCredentials: \"yes\"}\n",
			[]string{"stacks[0].source.allowInsecureHTTPCredentials: expected true or false"}},
		{"path escapes", head + "  - name: a\n    source: {repo: r, path: ../x}\n",
			[]string{"stacks[0].source.path", "stay inside"}},
		{"sensitive without kind or fields", head + "  - name: a\n    source: {repo: r}\n    sensitive:\n      - name: db\n",
			[]string{"gantry.yaml:7: stacks[0].sensitive[0].kind: missing", "gantry.yaml:7: stacks[0].sensitive[0].fields: missing"}},
		{"sensitive field path", head + "  - name: a\n    source: {repo: r}\n    sensitive:\n      - {kind: ConfigMap, fields: [data., \"data['x\"]}\n",
			[]string{"gantry.yaml:7: stacks[0].sensitive[0].fields[0]: \"data.\" is not a field path: a trailing dot", "stacks[0].sensitive[0].fields[1]", "an unclosed ['"}},
		{"sensitive unknown field", head + "  - name: a\n    source: {repo: r}\n    sensitive: [{kind: ConfigMap, paths: [data.x]}]\n",
			[]string{"stacks[0].sensitive[0].paths: unknown field", "fields"}},
		{"helm values not a mapping", head + "  - name: a\n    source: {repo: r, helm: {values: [1]}}\n",
			[]string{"gantry.yaml:5: stacks[0].source.helm.values: expected a mapping of chart values"}},
		{"helm values file escapes", head + "  - name: a\n    source:\n      repo: r\n      helm: {valuesFiles: [../x.yaml], releaseName: Bad_Name}\n",
			[]string{"gantry.yaml:7: stacks[0].source.helm.valuesFiles[0]", "stay inside", "stacks[0].source.helm.releaseName"}},
		{"helm dependency repository not a URL", head + "  - name: a\n    source: {repo: r, helm: {dependencyRepositories: [\"@bitnami\"]}}\n",
			[]string{"stacks[0].source.helm.dependencyRepositories[0]: give a Helm repository's http:// or https:// URL"}},
		{"helm unknown field", head + "  - name: a\n    source: {repo: r, helm: {valueFiles: [x.yaml]}}\n",
			[]string{"stacks[0].source.helm.valueFiles: unknown field", "valuesFiles"}},
		{"chart and repo", head + "  - name: a\n    source: {repo: r, chart: {repository: https://charts.example.com, name: x, version: 1.0.0}}\n",
			[]string{"gantry.yaml:5: stacks[0].source: a source is one of a Git repository (repo), a chart of a Helm repository (chart) and an OCI artifact (artifact)"}},
		{"artifact and chart", head + "  - name: a\n    source:\n      chart: {repository: https://c.example.com, name: x, version: 1.0.0}\n      artifact: {url: oci://r.example.com/web, tag: v1}\n",
			[]string{"stacks[0].source: a source is one of"}},
		{"artifact without a ref, bad url", head + "  - name: a\n    source:\n      artifact: {url: https://r.example.com/web}\n",
			[]string{"gantry.yaml:6: stacks[0].source.artifact: url: \"https://r.example.com/web\": write oci://HOST/PATH", "stacks[0].source.artifact: give a tag, a semver range or a digest"}},
		{"artifact two refs, unknown field", head + "  - name: a\n    source:\n      artifact: {url: oci://r.example.com/web, tag: v1, semver: ^1, layerSelector: x}\n",
			[]string{"stacks[0].source.artifact: give one of tag, semver and digest", "stacks[0].source.artifact.layerSelector: unknown field"}},
		{"artifact with verify", head + "  - name: a\n    source:\n      artifact: {url: oci://r.example.com/web, tag: v1}\n    verify: {provider: ssh, keys: k}\n",
			[]string{"stacks[0].verify: signatures are checked on Git commits; a chart from a Helm repository or an OCI artifact"}},
		{"artifact with a ref", head + "  - name: a\n    source:\n      artifact: {url: oci://r.example.com/web, tag: v1}\n      ref: main\n",
			[]string{"stacks[0].source.ref: ref names a Git branch"}},
		{"chart with a path", head + "  - name: a\n    source:\n      chart: {repository: https://c.example.com, name: x, version: 1.0.0}\n      path: sub\n",
			[]string{"stacks[0].source.path: a chart from a Helm repository is rendered whole"}},
		{"chart without version, repository not http", head + "  - name: a\n    source:\n      chart: {repository: ftp://r.example.com/charts, name: x}\n",
			[]string{"stacks[0].source.chart.repository: give the Helm repository's http:// or https:// URL, or an OCI registry's oci://HOST/PATH", "stacks[0].source.chart.version: missing"}},
		{"chart with values files", head + "  - name: a\n    source:\n      chart: {repository: https://c.example.com, name: x, version: 1.0.0}\n      helm: {valuesFiles: [v.yaml]}\n",
			[]string{"stacks[0].source.helm.valuesFiles: values files are read from a Git commit"}},
		{"chart with verify", head + "  - name: a\n    source:\n      chart: {repository: https://c.example.com, name: x, version: 1.0.0}\n    verify: {provider: ssh, keys: k}\n",
			[]string{"stacks[0].verify: signatures are checked on Git commits"}},
		{"duplicate names", head + "  - name: a\n    source: {repo: r}\n  - name: a\n    source: {repo: s}\n",
			[]string{`stacks[1].name: "a" is already the name of stacks[0]`}},
		{"field set twice", head + "  - name: a\n    name: b\n    source: {repo: r}\n",
			[]string{"gantry.yaml:5: stacks[0].name: set twice"}},
		{"wrong apiVersion", "apiVersion: v1\nkind: Config\nstacks: []\n",
			[]string{"gantry.yaml:1: apiVersion", "use gantry.dev/v1alpha1"}},
		{"missing kind", "apiVersion: gantry.dev/v1alpha1\nstacks: []\n",
			[]string{"kind: missing"}},
		{"stacks not a list", "apiVersion: gantry.dev/v1alpha1\nkind: Config\nstacks: {a: b}\n",
			[]string{"gantry.yaml:3: stacks: expected a list, found a mapping"}},
		{"invalid YAML", "apiVersion: [\n", []string{"gantry.yaml: invalid YAML"}},
		{"bad drift", head + "  - name: a\n    source: {repo: r}\n    drift: ignore\n",
			[]string{"gantry.yaml:6: stacks[0].drift", `"ignore" is not a drift policy: use correct or report`}},
		{"bad window kind", head + "  - name: a\n    source: {repo: r}\n    windows: [{kind: maybe, schedule: '0 1 * * *', duration: 1h}]\n",
			[]string{"stacks[0].windows[0].kind", `"maybe" is not a window kind`}},
		{"bad cron", head + "  - name: a\n    source: {repo: r}\n    windows: [{kind: deny, schedule: 'every friday', duration: 1h}]\n",
			[]string{"gantry.yaml:6: stacks[0].windows[0]", `schedule "every friday" is not a cron expression`, "five fields"}},
		{"bad time zone", head + "  - name: a\n    source: {repo: r}\n    windows: [{kind: deny, schedule: '0 1 * * *', duration: 1h, timeZone: Mars/Olympus}]\n",
			[]string{"stacks[0].windows[0]", `timeZone "Mars/Olympus" is not a time zone`}},
		{"window without duration", head + "  - name: a\n    source: {repo: r}\n    windows: [{kind: allow, schedule: '0 1 * * *'}]\n",
			[]string{"stacks[0].windows[0].duration: missing"}},
		{"window with bad duration", head + "  - name: a\n    source: {repo: r}\n    windows: [{kind: allow, schedule: '0 1 * * *', duration: soon}]\n",
			[]string{"stacks[0].windows[0].duration", `"soon" is not a duration`}},
		{"bad signature provider", head + "  - name: a\n    source: {repo: r}\n    verify: {provider: x509, keys: k}\n",
			[]string{"gantry.yaml:6: stacks[0].verify.provider", `"x509" is not a signature provider: use openpgp or ssh`}},
		{"bad verification mode", head + "  - name: a\n    source: {repo: r}\n    verify: {provider: ssh, keys: k, mode: branch}\n",
			[]string{"stacks[0].verify.mode", `"branch" is not a verification mode: use commit or tag`}},
		{"verify without keys", head + "  - name: a\n    source: {repo: r}\n    verify: {provider: ssh}\n",
			[]string{"stacks[0].verify", "give provider (openpgp or ssh) and keys"}},
		{"render budget not a size", head + "  - name: a\n    source: {repo: r, maxRenderBytes: lots}\n",
			[]string{"gantry.yaml:5: stacks[0].source.maxRenderBytes", `"lots" is not a size`, "512Mi"}},
		{"render budget a mapping", head + "  - name: a\n    source: {repo: r, maxRenderBytes: {a: 1}}\n",
			[]string{"stacks[0].source.maxRenderBytes: expected a size in bytes, found a mapping"}},
		{"render budget too small", head + "  - name: a\n    source: {repo: r, maxRenderBytes: 1000}\n",
			[]string{"stacks[0].source.maxRenderBytes", "below 1Mi"}},
		{"render budget too large", head + "  - name: a\n    source: {repo: r, maxRenderBytes: 65Gi}\n",
			[]string{"stacks[0].source.maxRenderBytes", "from 1Mi to 64Gi"}},
		{"render budget negative", head + "  - name: a\n    source: {repo: r, maxRenderBytes: -5Mi}\n",
			[]string{"stacks[0].source.maxRenderBytes", "is not a size"}},
		{"several errors at once", head + "  - name: a\n    source: {repo: r}\n    prune: 3\n    approval: never\n",
			[]string{"stacks[0].prune", "stacks[0].approval"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := stack.Parse("gantry.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	_, err := stack.Load(filepath.Join(t.TempDir(), "gantry.yaml"))
	if err == nil || !strings.Contains(err.Error(), "--config") {
		t.Errorf("err = %v, want one saying how to fix it", err)
	}
}

func TestAdHoc(t *testing.T) {
	t.Parallel()
	s, err := stack.AdHoc("web", stack.Source{Repo: `/repos/a "quoted" dir\with\backslashes`, Path: "deploy"}, "shop", true)
	if err != nil {
		t.Fatal(err)
	}
	want := stack.Stack{
		Name:   "web",
		Source: stack.Source{Repo: `/repos/a "quoted" dir\with\backslashes`, Ref: "HEAD", Path: "deploy"},
		Target: stack.Target{Namespace: "shop"}, Prune: true, MaxPrunePercent: 25, ForceConflicts: true,
		Approval: stack.ApprovalAutoUnlessDestructive, Drift: stack.DriftCorrect, Schedule: stack.Schedule{Interval: 5 * time.Minute, Jitter: 30 * time.Second},
	}
	if diff := cmp.Diff(&want, s); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	if s, err := stack.AdHoc("web", stack.Source{Repo: "http://git.lan/a.git", AllowInsecureHTTPCredentials: true}, "", false); err != nil || !s.Source.AllowInsecureHTTPCredentials {
		t.Errorf("ad hoc http repository with insecure credentials allowed: %v, %v", s, err)
	}
	_, err = stack.AdHoc("Bad_Name", stack.Source{Path: "../x", AllowInsecureHTTPCredentials: true}, "Not Valid", false)
	for _, w := range []string{"--stack", "--path", "--namespace", "--repo", "--allow-insecure-http-credentials"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v does not mention %s", err, w)
		}
	}
}

func TestWindows(t *testing.T) {
	t.Parallel()
	cfg, err := stack.Parse("gantry.yaml", []byte(`apiVersion: gantry.dev/v1alpha1
kind: Config
stacks:
  - name: weekdays
    source: {repo: r}
    windows:
      - {kind: allow, schedule: "0 9 * * 1-5", duration: 8h, timeZone: Europe/Berlin}
  - name: freeze
    source: {repo: r}
    windows:
      - {kind: allow, schedule: "0 9 * * 1-5", duration: 8h, timeZone: Europe/Berlin}
      - {kind: deny, schedule: "0 12 * * 3", duration: 1h, timeZone: Europe/Berlin}
  - name: always
    source: {repo: r}
`))
	if err != nil {
		t.Fatal(err)
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	at := func(day, hour, minute int) time.Time { return time.Date(2026, 12, day, hour, minute, 0, 0, berlin) }
	for _, tc := range []struct {
		stack string
		at    time.Time
		want  bool
	}{
		{"weekdays", at(2, 8, 59), false},      // Wednesday, before the window
		{"weekdays", at(2, 9, 0), true},        // it opens
		{"weekdays", at(2, 16, 59), true},      // still open
		{"weekdays", at(2, 17, 0), false},      // closed after 8h
		{"weekdays", at(5, 10, 0), false},      // Saturday
		{"freeze", at(2, 11, 59), true},        // Wednesday, allowed
		{"freeze", at(2, 12, 30), false},       // the deny window wins
		{"freeze", at(2, 13, 0), true},         // and closes after an hour
		{"always", at(5, 3, 0), true},          // no windows: always allowed
		{"weekdays", at(2, 8, 0).UTC(), false}, // the zone is the window's, not t's
	} {
		s, _ := cfg.Find(tc.stack)
		got, why := s.ApplyAllowed(tc.at)
		if got != tc.want {
			t.Errorf("%s at %s: allowed = %v (%s), want %v", tc.stack, tc.at, got, why, tc.want)
		}
		if !got && why == "" {
			t.Errorf("%s at %s: denied without a reason", tc.stack, tc.at)
		}
	}
	s, _ := cfg.Find("freeze")
	if got, want := s.NextWindowChange(at(2, 11, 0), 48*time.Hour), at(2, 12, 0); !got.Equal(want) {
		t.Errorf("NextWindowChange(11:00) = %s, want %s (the deny window opens)", got, want)
	}
	if got, want := s.NextWindowChange(at(2, 12, 30), 48*time.Hour), at(2, 13, 0); !got.Equal(want) {
		t.Errorf("NextWindowChange(12:30) = %s, want %s (the deny window closes)", got, want)
	}
	always, _ := cfg.Find("always")
	if got := always.NextWindowChange(at(2, 12, 30), 48*time.Hour); !got.IsZero() {
		t.Errorf("NextWindowChange without windows = %s, want zero", got)
	}
}

func TestLoadVerifyKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "gantry.yaml")
	doc := "apiVersion: gantry.dev/v1alpha1\nkind: Config\nstacks:\n  - name: a\n    source: {repo: r}\n    verify: {provider: ssh, keys: keys/allowed_signers}\n"
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := stack.Load(path); err == nil || !strings.Contains(err.Error(), "stacks[0].verify.keys") {
		t.Errorf("missing keys file: %v", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "keys", "allowed_signers"), []byte("ssh-ed25519 AAAA\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := stack.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if v := cfg.Stacks[0].Verify; v == nil || v.Provider != "ssh" || v.Mode != "commit" || v.Keys != filepath.Join(dir, "keys", "allowed_signers") {
		t.Errorf("verify = %+v, want ssh with the keys file resolved against gantry.yaml", v)
	}
}

func TestParseByteSize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"1048576", 1 << 20}, {"512Mi", 512 << 20}, {"2Gi", 2 << 30}, {"4096Ki", 4 << 20}, {"64Gi", 64 << 30},
		{"", -1}, {"1Mb", -1}, {"1.5Gi", -1}, {"Mi", -1}, {"0", -1}, {"1023Ki", -1}, {"99999999999Gi", -1}, {" 1Gi", -1},
	} {
		got, err := stack.ParseByteSize(tc.in)
		if tc.want < 0 {
			if err == nil {
				t.Errorf("ParseByteSize(%q) = %d, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestNotificationsConfig(t *testing.T) {
	head := "apiVersion: gantry.dev/v1alpha1\nkind: Config\nstacks:\n  - {name: shop, source: {repo: r}}\nnotifications:\n"
	cfg, err := stack.Parse("gantry.yaml", []byte(head+`  publicURL: https://gantry.example.com
  providers:
    - name: ops
      type: webhook
      url: {env: OPS_WEBHOOK_URL}
      secret: {file: secrets/ops}
  routes:
    - stacks: ["shop-*"]
      kinds: ["plan.pending", "apply.*"]
      providers: [ops]
`))
	if err != nil {
		t.Fatal(err)
	}
	want := &stack.Notifications{PublicURL: "https://gantry.example.com",
		Providers: []stack.NotificationProvider{{Name: "ops", Type: "webhook", URL: stack.SecretRef{Env: "OPS_WEBHOOK_URL"}, Secret: stack.SecretRef{File: "secrets/ops"}}},
		Routes:    []stack.NotificationRoute{{Stacks: []string{"shop-*"}, Kinds: []string{"plan.pending", "apply.*"}, Providers: []string{"ops"}}}}
	if diff := cmp.Diff(want, cfg.Notifications); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	for _, tc := range []struct {
		name, body string
		want       []string
	}{
		{"url inline", "  providers: [{name: ops, type: webhook, url: https://hooks.example.com/x}]\n",
			[]string{"gantry.yaml:6: notifications.providers[0].url: written inline: give {env: VARIABLE} or {file: PATH}"}},
		{"unknown type, no url", "  providers: [{name: ops, type: carrier-pigeon}]\n",
			[]string{`notifications.providers[0].type: "carrier-pigeon" is not a provider type`, "notifications.providers[0].url: missing"}},
		{"env and file", "  providers: [{name: ops, type: webhook, url: {env: A, file: b}}]\n",
			[]string{"notifications.providers[0].url: give one of env and file"}},
		{"two of a name", "  providers: [{name: ops, type: webhook, url: {env: A}}, {name: ops, type: webhook, url: {env: B}}]\n",
			[]string{`"ops" is the name of two providers`}},
		{"route to nobody known, kind typo", "  providers: [{name: ops, type: webhook, url: {env: A}}]\n  routes: [{kinds: [aply.*], providers: [pager]}]\n",
			[]string{"notifications.routes[0].kinds[0]: matches no event kind", "notifications.routes[0].providers[0]: no provider is named pager"}},
		{"route without providers, bad pattern", "  providers: [{name: ops, type: webhook, url: {env: A}}]\n  routes: [{stacks: [\"[\"]}]\n",
			[]string{"notifications.routes[0].stacks[0]: not a pattern", "notifications.routes[0].providers: missing"}},
		{"unknown field", "  provider: []\n", []string{"notifications.provider: unknown field"}},
		{"github without a token, with a url", "  providers: [{name: gh, type: github, url: {env: A}}]\n",
			[]string{"notifications.providers[0].secret: missing", "notifications.providers[0].url: a github provider takes apiURL"}},
		{"slack with a secret and an apiURL", "  providers: [{name: s, type: slack, url: {env: A}, secret: {env: B}, apiURL: https://x}]\n",
			[]string{"notifications.providers[0].secret: a slack incoming webhook's URL is its secret", "notifications.providers[0].apiURL: applies to github and gitlab"}},
	} {
		_, err := stack.Parse("gantry.yaml", []byte(head+tc.body))
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %v, want %q", tc.name, err, w)
			}
		}
	}
}
