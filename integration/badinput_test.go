package integration

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gantryops/gantry/internal/gittest"
)

// TestBadInput runs the gantry binary on malformed input — flags, gantry.yaml,
// manifests — and checks that each is refused with exit 1 and an error naming
// the input and what is wrong, and that nothing was written: no row in any
// table of the record, no object in the cluster.
func TestBadInput(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	repo := gittest.NewRepo(t)
	cm := func(name string) string { return configMapDoc(name, "1") }
	repo.Commit("bad inputs", map[string]string{
		"good/cms.yaml":               cm("a"),
		"badyaml/cms.yaml":            cm("ok") + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n   broken: indent\n",
		"noname/cms.yaml":             "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n",
		"nokind/cms.yaml":             "apiVersion: v1\nmetadata: {name: x}\n",
		"unknownkind/x.yaml":          "apiVersion: example.invalid/v1\nkind: Frobnicator\nmetadata: {name: f}\n",
		"nocrd/prom.yaml":             "apiVersion: monitoring.coreos.com/v1\nkind: Prometheus\nmetadata: {name: k8s}\n",
		"clusterns/role.yaml":         "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: reader-" + ns + ", namespace: shop}\nrules: []\n",
		"badlabel/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: l\n  labels: {tier: \"not a valid value!\"}\n",
		"longname/cm.yaml":            cm(strings.Repeat("n", 254)),
		"dup/a.yaml":                  cm("twice"),
		"dup/b.yaml":                  cm("twice"),
		"badlist/list.yaml":           "apiVersion: v1\nkind: List\nitems: [1, 2]\n",
		"numlabel/cm.yaml":            cm("ok") + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: num\n  labels: {app: web, version: 2}\n",
		"dupkey/cm.yaml":              "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\ndata:\n  v: one\n  v: two\n",
		"listitems/list.yaml":         "apiVersion: v1\nkind: ConfigMapList\nitems: {a: b}\n",
		"notobject/x.yaml":            "- just\n- a list\n",
		"huge/cm.yaml":                cm("big") + "# " + strings.Repeat("x", 33<<20) + "\n",
		"kremote/kustomization.yaml":  "resources:\n- https://example.invalid/evil.yaml\n",
		"kmissing/kustomization.yaml": "resources: [gone.yaml]\n",
	})
	dsn := env.DB.NewDatabase(t)
	c := newCLI(t, dsn)
	stackYAML := func(name, path, extra string) string {
		return fmt.Sprintf("apiVersion: gantry.dev/v1alpha1\nkind: Config\nstacks:\n- name: %s\n  source: {repo: %s, ref: main, path: %s}\n  target: {namespace: %s}\n%s", name, repo.Dir, path, ns, extra)
	}
	c.write("gantry.yaml", stackYAML("good", "good", ""))
	config := func(file, content string) string {
		c.write(file, content)
		return file
	}

	cases := []struct {
		name string
		args []string
		want []string
	}{
		// Flags.
		{"unknown flag", []string{"plan", "--no-such-flag"}, []string{"unknown flag: --no-such-flag"}},
		{"unknown diff mode", []string{"plan", "--diff", "fast"}, []string{`--diff "fast"`, "auto or server or local"}},
		{"unknown output", []string{"plan", "-o", "yaml"}, []string{`--output "yaml"`, "text or json or markdown"}},
		{"unknown log level", []string{"plan", "--log-level", "loud"}, []string{`--log-level "loud"`, "trace, debug, info, warn or error"}},
		{"unknown log format", []string{"plan", "--log-format", "xml"}, []string{`--log-format "xml"`, "text or json"}},
		{"bad timeout", []string{"apply", "--timeout", "soon"}, []string{`"soon"`, "--timeout"}},
		{"unknown stack", []string{"plan", "--stack", "nope"}, []string{`no stack "nope" in gantry.yaml`, "it declares: good"}},
		{"missing config", []string{"plan", "--config", "missing.yaml"}, []string{"missing.yaml", "--config"}},
		{"history of an unknown stack", []string{"history", "nope"}, []string{`no stack "nope"`, "never been planned here"}},
		{"bad restore time", []string{"restore", "good", "--at", "tomorrowish"}, []string{`"tomorrowish"`}},
		{"not a plan id", []string{"approve", "xyz"}, []string{`plan "xyz"`, "give a plan ID"}},
		{"run an unknown stack", []string{"run", "--once", "--stack", "nope"}, []string{"--stack nope: no such stack in gantry.yaml"}},
		{"unknown plan status", []string{"plans", "--status", "waiting"}, []string{`--status "waiting"`}},
		{"review: bad repository", []string{"review", "github", "--repo", "acme", "--pr", "1"}, []string{`--repo "acme"`, "OWNER/NAME"}},
		{"gc without a rule", []string{"gc", "good"}, []string{"say what to keep"}},
		{"ad hoc path out of the repository", []string{"plan", "--repo", repo.Dir, "--path", "../x"}, []string{"--path", "stay inside"}},
		{"ad hoc bad namespace", []string{"plan", "--repo", repo.Dir, "--path", "good", "--namespace", "Not Valid"}, []string{`--namespace: "Not Valid" is not a valid namespace name`}},
		// gantry.yaml.
		{"invalid YAML config", []string{"plan", "--config", config("c1.yaml", "apiVersion: [\n")}, []string{"c1.yaml: invalid YAML"}},
		{"unknown config field", []string{"plan", "--config", config("c2.yaml", stackYAML("good", "good", "  prun: true\n"))}, []string{"c2.yaml:7: stacks[0].prun: unknown field"}},
		{"bad interval", []string{"run", "--once", "--config", config("c3.yaml", stackYAML("good", "good", "  schedule: {interval: soon}\n"))}, []string{"c3.yaml:7: stacks[0].schedule.interval", `"soon" is not a duration`}},
		{"bad cron", []string{"run", "--once", "--config", config("c4.yaml", stackYAML("good", "good", "  windows: [{kind: deny, schedule: 'every friday', duration: 1h}]\n"))}, []string{"c4.yaml:7: stacks[0].windows[0]", "not a cron expression"}},
		{"bad time zone", []string{"run", "--once", "--config", config("c5.yaml", stackYAML("good", "good", "  windows: [{kind: deny, schedule: '0 1 * * *', duration: 1h, timeZone: Mars/Olympus}]\n"))}, []string{"c5.yaml:7", `timeZone "Mars/Olympus"`}},
		{"bad approval policy", []string{"run", "--once", "--config", config("c6.yaml", stackYAML("good", "good", "  approval: sometimes\n"))}, []string{"c6.yaml:7: stacks[0].approval", `"sometimes" is not a policy`}},
		{"bad drift policy", []string{"run", "--once", "--config", config("c7.yaml", stackYAML("good", "good", "  drift: ignore\n"))}, []string{"c7.yaml:7: stacks[0].drift"}},
		{"stack name too long", []string{"plan", "--config", config("c8.yaml", stackYAML(strings.Repeat("s", 64), "good", ""))}, []string{"c8.yaml:4: stacks[0].name", "at most 63 characters"}},
		// Manifests.
		{"invalid YAML manifest", []string{"plan", "--config", config("m1.yaml", stackYAML("m1", "badyaml", ""))}, []string{"badyaml/cms.yaml:"}},
		{"object without a name", []string{"plan", "--config", config("m2.yaml", stackYAML("m2", "noname", ""))}, []string{"noname/cms.yaml:1", "metadata.name"}},
		{"object without a kind", []string{"plan", "--config", config("m3.yaml", stackYAML("m3", "nokind", ""))}, []string{"nokind/cms.yaml:1", "kind"}},
		{"unknown kind", []string{"plan", "--config", config("m4.yaml", stackYAML("m4", "unknownkind", ""))}, []string{"Frobnicator.example.invalid/f", "the cluster does not serve Frobnicator", "CustomResourceDefinition"}},
		{"custom resource without its CRD", []string{"plan", "--config", config("m5.yaml", stackYAML("m5", "nocrd", ""))}, []string{"Prometheus.monitoring.coreos.com/k8s", "install its CustomResourceDefinition first"}},
		{"namespace on a cluster-scoped object", []string{"plan", "--config", config("m6.yaml", stackYAML("m6", "clusterns", ""))}, []string{"ClusterRole.rbac.authorization.k8s.io/shop/reader-" + ns, "cluster-scoped, but names namespace \"shop\"", "remove metadata.namespace"}},
		{"invalid label value", []string{"plan", "--config", config("m7.yaml", stackYAML("m7", "badlabel", ""))}, []string{"badlabel/cm.yaml:1", "metadata.labels", `"not a valid value!"`, "a valid label must be"}},
		{"name too long", []string{"plan", "--config", config("m8.yaml", stackYAML("m8", "longname", ""))}, []string{"ConfigMap/" + ns + "/nnnn", "must be no more than 253 characters"}},
		{"object twice", []string{"plan", "--config", config("m9.yaml", stackYAML("m9", "dup", ""))}, []string{"dup/a.yaml", "dup/b.yaml", "twice"}},
		{"List of non-objects", []string{"plan", "--config", config("m10.yaml", stackYAML("m10", "badlist", ""))}, []string{"badlist/list.yaml"}},
		{"label that is a number", []string{"plan", "--config", config("m16.yaml", stackYAML("m16", "numlabel", ""))}, []string{"numlabel/cm.yaml:7", "metadata.labels.version must be a string, found the number 2", "quote the value"}},
		{"key twice in a mapping", []string{"plan", "--config", config("m17.yaml", stackYAML("m17", "dupkey", ""))}, []string{"dupkey/cm.yaml", "line 6", `key "v" appears twice`}},
		{"List whose items are not a list", []string{"plan", "--config", config("m18.yaml", stackYAML("m18", "listitems", ""))}, []string{"listitems/list.yaml:1", "items must be a list"}},
		{"manifest not an object", []string{"plan", "--config", config("m11.yaml", stackYAML("m11", "notobject", ""))}, []string{"notobject/x.yaml:1"}},
		{"huge file", []string{"plan", "--config", config("m12.yaml", stackYAML("m12", "huge", ""))}, []string{"huge/cm.yaml is", "over the limit"}},
		{"remote base", []string{"plan", "--config", config("m13.yaml", stackYAML("m13", "kremote", ""))}, []string{"kremote/kustomization.yaml", "remote bases are disabled"}},
		{"missing kustomization resource", []string{"plan", "--config", config("m14.yaml", stackYAML("m14", "kmissing", ""))}, []string{"kustomize build kmissing", "gone.yaml"}},
		{"path missing in the repository", []string{"plan", "--config", config("m15.yaml", stackYAML("m15", "nowhere", ""))}, []string{`path "nowhere" does not exist`}},
	}
	if len(cases) < 30 {
		t.Fatalf("%d cases; the table must hold at least 30", len(cases))
	}
	if _, errOut, code := c.run("db", "start"); code != 0 {
		t.Fatalf("gantry db start (migrates the database): %s", errOut)
	}
	before := recordCounts(t, dsn)
	for _, tc := range cases {
		_, errOut, code := c.run(tc.args...)
		if code != 1 {
			t.Errorf("%s: gantry %s: exit %d, want 1\n%s", tc.name, strings.Join(tc.args, " "), code, errOut)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%s: the error does not say %q:\n%s", tc.name, w, errOut)
			}
		}
		if after := recordCounts(t, dsn); after != before {
			t.Errorf("%s wrote to the record:\nbefore %s\nafter  %s", tc.name, before, after)
			before = after
		}
	}
	if got := liveConfigMaps(t, ns, "good"); len(got) != 0 {
		t.Errorf("bad input created objects: %v", got)
	}
}
