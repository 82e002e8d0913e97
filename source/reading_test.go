package source_test

import (
	"encoding/json"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/gantryops/gantry/source"
)

// renderBothWays renders a file as a plain manifest and as the resource of
// a kustomization: the JSON of the objects, or the error.
func renderBothWays(t *testing.T, content string) (plain, kustomized string, plainErr, kustomizeErr error) {
	t.Helper()
	render := func(files map[string]string) (string, error) {
		fsys := filesys.MakeFsInMemory()
		for name, c := range files {
			if err := fsys.WriteFile("/m/"+name, []byte(c)); err != nil {
				t.Fatal(err)
			}
		}
		objs, err := source.Render(fsys, "/m", source.DefaultRenderOptions())
		var out []string
		for _, u := range objs {
			js, jerr := json.Marshal(u.Object)
			if jerr != nil {
				t.Fatal(jerr)
			}
			out = append(out, string(js))
		}
		return strings.Join(out, "\n"), err
	}
	plain, plainErr = render(map[string]string{"cm.yaml": content})
	kustomized, kustomizeErr = render(map[string]string{"cm.yaml": content, "kustomization.yaml": "resources: [cm.yaml]\n"})
	return plain, kustomized, plainErr, kustomizeErr
}

// TestYAMLReadingsAgreeOrAreRefused: the same file reads the same as a
// plain manifest (sigs.k8s.io/yaml, YAML 1.1, as kubectl apply -f) and
// through kustomize (kyaml, YAML 1.2), or is refused by both with the
// same message, naming file:line and saying how to write it. Before, `v:
// yes` was refused in one and the string "yes" in the other, a key `on:`
// became "true" in one and stayed "on" in the other, `on:` and "true":
// in one mapping kept one value or the other at random (map order), and a
// key overriding a merge (<<) was refused as written twice.
func TestYAMLReadingsAgreeOrAreRefused(t *testing.T) {
	t.Parallel()
	cm := func(body string) string { return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n" + body }
	for _, tc := range []struct {
		name, content string
		want          string // in both errors; "" when both render the same objects
		wantPlain     string // the plain path's object (JSON) when it differs from kustomize's by design
		wantKustomize string // kustomize's error, when only kustomize refuses
	}{
		// Values YAML 1.1 reads as booleans, YAML 1.2 as strings.
		{"yes as a label", cm("  labels:\n    v: yes\n"), `m/cm.yaml:6: the value of "v": an unquoted y, n, yes, no, on or off`, "", ""},
		{"on in data", cm("data:\n  mode: on\n"), `m/cm.yaml:6: the value of "mode"`, "", ""},
		{"N in a list", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  args: [x, N]\n", "m/cm.yaml:5: an item of a list", "", ""},
		{"Off in a Secret", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {flag: Off}\n", `m/cm.yaml:4: the value of "flag"`, "", ""},
		{"yes quoted", cm("data:\n  v: \"yes\"\n  w: 'on'\n"), "", "", ""},
		{"true and false", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {hostNetwork: true, x: False}\n", "", "", ""},
		// Keys YAML 1.1 converts to another string than written.
		{"on as a key", cm("data:\n  on: x\n"), `m/cm.yaml:6: key "on" reads as "true" to kubectl apply -f (YAML 1.1) and as "on" to kustomize (YAML 1.2): quote it`, "", ""},
		{"yes as a label key", cm("  labels:\n    yes: x\n"), `m/cm.yaml:6: key "yes" reads as "true"`, "", ""},
		{"True as a key", cm("data:\n  True: x\n"), `key "True" reads as "true"`, "", ""},
		{"on and true, the keys that collided at random", cm("data:\n  on: \"x\"\n  \"true\": \"y\"\n"), `m/cm.yaml:6: key "on" reads as "true"`, "", ""},
		{"a hexadecimal key", cm("data:\n  0x1F: x\n"), `key "0x1F" reads as "31"`, "", ""},
		{"an octal key", cm("data:\n  0644: x\n"), `key "0644" reads as "420"`, "", ""},
		{"a float key", cm("data:\n  1.50: x\n"), `key "1.50" reads as "1.5"`, "", ""},
		{"a null key", cm("data:\n  ~: x\n"), `m/cm.yaml:6: key "~" is not a string to kubectl apply -f`, "", ""},
		{"an empty key", cm("data:\n  ? \n  : x\n"), `key "" is not a string`, "", ""},
		{"a key beyond int64", cm("data:\n  12345678901234567890: x\n"), `key "12345678901234567890" is not a string`, "", ""},
		{"a list as a key", cm("data:\n  ? [a]\n  : x\n"), "m/cm.yaml:6: a key is a list: a key must be a string", "", ""},
		{"a mapping as a key", cm("data:\n  ? {a: b}\n  : x\n"), "a key is a mapping", "", ""},
		{"a tagged key", cm("data:\n  !!int 1: x\n"), `key "1" has the tag !!int`, "", ""},
		{"an alias as a key", cm("  labels: {a: &k b}\ndata:\n  *k : x\n"), "a key is an alias", "", ""},
		// Keys that are the same string once converted.
		{"1 and \"1\"", cm("data:\n  1: x\n  \"1\": z\n"), `key "1"`, "", ""},
		{"k and \"k\"", cm("data:\n  k: x\n  \"k\": z\n"), `m/cm.yaml:7: key "k" appears twice in the same mapping (line 6: k (unquoted); line 7: "k")`, "", ""},
		{"true and \"true\"", cm("data:\n  true: x\n  \"true\": y\n"), `key "true"`, "", ""},
		{"a key twice in a flow mapping", cm("  labels: {x: \"1\", x: \"2\"}\n"), `m/cm.yaml:5: key "x" appears twice`, "", ""},
		// Keys YAML 1.1 converts to their own text: kubectl's reading, which
		// kustomize cannot convert (it refuses all such keys).
		{"a port as a key", cm("data:\n  9000: default/web:8080\n"), "", `{"apiVersion":"v1","data":{"9000":"default/web:8080"},"kind":"ConfigMap","metadata":{"name":"a"}}`, `m/cm.yaml:6: key "9000" is an integer to kustomize (YAML 1.2), which cannot convert it to JSON: quote it`},
		// Merges: a key after << overrides it in both; before, YAML 1.1
		// lets the merge win and kustomize the key.
		{"a key overriding a merge", cm("  labels: &l {x: \"1\", z: \"1\"}\n  annotations:\n    <<: *l\n    x: \"2\"\n"), "", "", ""},
		{"merges of a list, the first wins", cm("  labels: &l {x: \"1\"}\n  annotations: &m {x: \"2\", z: \"2\"}\ndata:\n  <<: [*l, *m]\n"), "", "", ""},
		{"a key before a merge that sets it", cm("  labels: &l {x: \"1\"}\n  annotations:\n    x: \"2\"\n    <<: *l\n"), `m/cm.yaml:7: key "x" is written before the merge (<<) at line 8`, "", ""},
		{"a key before a merge of a merge", cm("  labels: &l {x: \"1\"}\n  annotations: &m {<<: *l, z: \"1\"}\ndata:\n  x: \"2\"\n  <<: *m\n"), `key "x" is written before the merge`, "", ""},
		{"two merges", cm("  labels: &l {x: \"1\"}\n  annotations: &m {z: \"1\"}\ndata:\n  <<: *l\n  <<: *m\n"), "m/cm.yaml:9: merge key << appears twice in the same mapping (first at line 8)", "", ""},
		{"a key named <<", cm("data:\n  \"<<\": x\n"), "a key named << is taken for YAML's merge key by kustomize", "", ""},
		// Dates YAML 1.2 reads as times, kustomize rewriting them.
		{"a date", cm("data:\n  day: 2024-01-02\n"), `m/cm.yaml:6: the value of "day": an unquoted date or time`, "", ""},
		{"a time with a space", cm("data:\n  at: 2024-01-02 10:00:00\n"), "an unquoted date or time", "", ""},
		{"a time as RFC 3339", cm("data:\n  at: 2024-01-02T10:00:00Z\n  at2: 2024-01-02T10:00:00.5+01:00\n"), "", "", ""},
		{"a date tagged as a time", cm("data:\n  day: !!timestamp 2024-01-02\n"), `the value of "day": an unquoted date or time`, "", ""},
		// Values left out in flow mappings: null to kubectl, "" to kustomize.
		{"a value left out in a flow mapping", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {a: , b: 1}\n", `m/cm.yaml:4: the value of "a" is left out in a flow mapping`, "", ""},
		{"a flow set", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {a, b}\n", `the value of "a" is left out`, "", ""},
		{"a value left out in a block mapping", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  a:\n  b: 1\n", "", "", ""},
		// Trailing blank lines kept in a block scalar: kustomize adds one.
		{"a folded block keeping blank lines", cm("data:\n  k: >+\n    a\n    b\n\n"), `the value of "k": a block scalar keeping its trailing blank lines`, "", ""},
		{"a literal block keeping blank lines, then a comment", cm("data:\n  k: |+\n    a\n\n# c\n"), "a block scalar keeping", "", ""},
		{"literal blocks", cm("data:\n  k: |\n    a\n\n  l: |-\n    b\n  m: |+\n    c\n  o: >\n    d\n    e\n"), "", "", ""},
		// Numbers read the same (integers beyond int64 rounded by both, as
		// kubectl does).
		{"numbers", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {a: 0644, b: 0o644, c: 0x1F, d: 1_000, e: 1e3, f: .5, g: 12345678901234567890, h: -0}\n", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			plain, kustomized, plainErr, kustomizeErr := renderBothWays(t, tc.content)
			switch {
			case tc.want != "":
				for path, err := range map[string]error{"plain": plainErr, "kustomize": kustomizeErr} {
					if err == nil || !strings.Contains(err.Error(), tc.want) {
						t.Errorf("%s: %v, want an error saying %q", path, err, tc.want)
					}
				}
			case tc.wantKustomize != "":
				if plainErr != nil || plain != tc.wantPlain {
					t.Errorf("plain: %s %v, want %s", plain, plainErr, tc.wantPlain)
				}
				if kustomizeErr == nil || !strings.Contains(kustomizeErr.Error(), tc.wantKustomize) {
					t.Errorf("kustomize: %s %v, want an error saying %q", kustomized, kustomizeErr, tc.wantKustomize)
				}
			default:
				if plainErr != nil || kustomizeErr != nil || plain != kustomized || plain == "" {
					t.Errorf("the paths read the file differently:\nplain:     %s %v\nkustomize: %s %v", plain, plainErr, kustomized, kustomizeErr)
				}
			}
		})
	}
}

// TestSeparatorLineContent: content on a "---" line is refused in both
// paths, naming file:line, as kubectl's YAMLReader refuses it ("invalid
// Yaml document separator"). It was dropped: two such documents rendered
// nothing, and the objects they held would have been pruned.
func TestSeparatorLineContent(t *testing.T) {
	t.Parallel()
	const cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
	for _, tc := range []struct{ name, content, want string }{
		{"a flow mapping after ---", "--- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n--- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}\n", "m/cm.yaml:1: content after the document separator ---"},
		{"a tag after ---", cm + "--- !!map\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n", "m/cm.yaml:4: content after the document separator"},
		{"a key after --- and a tab", cm + "---\tapiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n", "m/cm.yaml:4: content after"},
		{"more dashes", cm + "-----\n" + cm, "m/cm.yaml:4: content after"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			plain, kustomized, plainErr, kustomizeErr := renderBothWays(t, tc.content)
			for path, err := range map[string]error{"plain": plainErr, "kustomize": kustomizeErr} {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: %v, want an error saying %q (rendered plain %q, kustomize %q)", path, err, tc.want, plain, kustomized)
				}
			}
		})
	}
	plain, kustomized, plainErr, kustomizeErr := renderBothWays(t, "--- # a comment\n"+cm+"---   \n---\n"+strings.Replace(cm, "a}", "b}", 1))
	if plainErr != nil || kustomizeErr != nil || plain != kustomized || strings.Count(plain, "\n") != 1 {
		t.Errorf("comments and blanks after --- are fine: plain %q %v, kustomize %q %v", plain, plainErr, kustomized, kustomizeErr)
	}
}

// TestRenderIsDeterministic renders the same bytes many times, through
// both paths: the same objects every time, or the same error. Keys that
// YAML 1.1 converts to the same string (on: and "true":) kept one value
// or the other at random, by Go's map order.
func TestRenderIsDeterministic(t *testing.T) {
	t.Parallel()
	for _, content := range []string{
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels: &l {a: \"1\", b: \"2\", c: \"3\"}\n  annotations:\n    <<: *l\n    b: \"4\"\n" +
			"data: {\"1\": x, \"2\": y, \"true\": z, \"false\": w, \"10\": v, \"1.0\": u}\n",
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  on: \"x\"\n  \"true\": \"y\"\n  1: \"x\"\n  \"1\": \"y\"\n",
	} {
		first := map[string]string{}
		for i := range 200 {
			plain, kustomized, plainErr, kustomizeErr := renderBothWays(t, content)
			got := map[string]string{"plain": plain + errText(plainErr), "kustomize": kustomized + errText(kustomizeErr)}
			for path, g := range got {
				if i == 0 {
					first[path] = g
				} else if g != first[path] {
					t.Fatalf("%s: render %d differs from the first:\n%s\n%s", path, i+1, first[path], g)
				}
			}
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return " error: " + err.Error()
}
