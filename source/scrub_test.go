package source_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/gantryops/gantry/source"
)

// canary is the Secret value the rows of TestRenderErrorsHoldNoSecretValue
// try to leak.
const canary = "canary-pin-9f3e1d"

// leaks returns the form of value text holds (as written, Go-quoted, hex,
// base64 in both alphabets, padded or not, or cut as error messages cut a
// quoted value), or "".
func leaks(text, value string) string {
	forms := []string{value, hex.EncodeToString([]byte(value))}
	if q := strconv.Quote(value); len(q) > 2 {
		forms = append(forms, q[1:len(q)-1])
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		forms = append(forms, enc.EncodeToString([]byte(value)))
	}
	if len(value) > 40 {
		forms = append(forms, value[:40])
	}
	for _, f := range forms {
		if strings.Contains(text, f) {
			return f
		}
	}
	return ""
}

// secretDoc is a Secret holding value as stringData.PIN.
func secretDoc(value string) string {
	return "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  PIN: \"" + value + "\"\n"
}

const configMapX = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  x: \"1\"\n"

// replacementOutOfBounds copies part of Secret s's field into ConfigMap a:
// the part is out of bounds, and kustomize's error quotes the whole value.
func replacementOutOfBounds(field string) string {
	return "replacements:\n- source: {kind: Secret, name: s, fieldPath: " + field + ", options: {delimiter: '/', index: 3}}\n" +
		"  targets:\n  - select: {kind: ConfigMap}\n    fieldPaths: [data.x]\n"
}

// TestRenderErrorsHoldNoSecretValue: no error a render returns holds a
// value that could be Secret content in any file the render read, in any
// form: a Secret loaded as a resource, through a component or a List,
// made by a patch, a generator's inputs, or a document that does not even
// convert to JSON; in this process and from the sandbox. Kustomize's
// replacement errors quoted the whole value ("options.index 3 is out of
// bounds for value canary-pin-9f3e1d"), the YAML converter a value under a
// key that is no string.
func TestRenderErrorsHoldNoSecretValue(t *testing.T) {
	t.Parallel()
	b64 := base64.StdEncoding.EncodeToString([]byte(canary))
	long := strings.Repeat("canary-pin-9f3e1d-", 9) // over the 100 bytes error messages quote
	for _, tc := range []struct {
		name  string
		files map[string]string // under /r
		value string            // the Secret value that must not leak (default canary)
		want  string            // what the error says, so that the row tests the error it means
	}{
		{"a replacement from a Secret's stringData", map[string]string{
			"kustomization.yaml": "resources: [s.yaml, cm.yaml]\n" + replacementOutOfBounds("stringData.PIN"),
			"s.yaml":             secretDoc(canary), "cm.yaml": configMapX}, "", "out of bounds"},
		{"a replacement from a Secret's data", map[string]string{
			"kustomization.yaml": "resources: [s.yaml, cm.yaml]\n" + replacementOutOfBounds("data.PIN"),
			"s.yaml":             "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {PIN: " + b64 + "}\n", "cm.yaml": configMapX}, "", "out of bounds"},
		{"a Secret of a component", map[string]string{
			"kustomization.yaml":      "resources: [cm.yaml]\ncomponents: [comp]\n" + replacementOutOfBounds("stringData.PIN"),
			"comp/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: [s.yaml]\n",
			"comp/s.yaml":             secretDoc(canary), "cm.yaml": configMapX}, "", "out of bounds"},
		{"a Secret of a base", map[string]string{
			"kustomization.yaml":      "resources: [base, cm.yaml]\n" + replacementOutOfBounds("stringData.PIN"),
			"base/kustomization.yaml": "resources: [s.yaml]\n",
			"base/s.yaml":             secretDoc(canary), "cm.yaml": configMapX}, "", "out of bounds"},
		{"a Secret in a List", map[string]string{
			"kustomization.yaml": "resources: [l.yaml, cm.yaml]\n" + replacementOutOfBounds("stringData.PIN"),
			"l.yaml":             "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: s}\n  stringData: {PIN: " + canary + "}\n",
			"cm.yaml":            configMapX}, "", "out of bounds"},
		{"a Secret whose kind is escaped", map[string]string{
			"kustomization.yaml": "resources: [s.yaml, cm.yaml]\n" + replacementOutOfBounds("stringData.PIN"),
			"s.yaml":             strings.Replace(secretDoc(canary), "kind: Secret", `kind: "Secr\x65t"`, 1), "cm.yaml": configMapX}, "", "out of bounds"},
		{"a Secret whose kind a merge gives", map[string]string{
			"kustomization.yaml": "resources: [s.yaml, cm.yaml]\n" + replacementOutOfBounds("stringData.PIN"),
			"s.yaml":             "x-kind: &k {kind: Secret}\n<<: *k\n" + strings.Replace(secretDoc(canary), "kind: Secret\n", "", 1), "cm.yaml": configMapX}, "", "out of bounds"},
		{"a value a strategic merge patch file gives a Secret", map[string]string{
			"kustomization.yaml": "resources: [s.yaml, cm.yaml]\npatches: [{path: p.yaml}]\n" + replacementOutOfBounds("stringData.PIN"),
			"s.yaml":             secretDoc("placeholder"),
			"p.yaml":             secretDoc(canary), "cm.yaml": configMapX}, "", "out of bounds"},
		{"a value an inline JSON patch gives a Secret", map[string]string{
			"kustomization.yaml": "resources: [s.yaml, cm.yaml]\npatches:\n- target: {kind: Secret, name: s}\n  patch: |-\n    - op: replace\n      path: /stringData/PIN\n      value: " + canary + "\n" + replacementOutOfBounds("stringData.PIN"),
			"s.yaml":             secretDoc("placeholder"), "cm.yaml": configMapX}, "", "out of bounds"},
		{"a value a JSON patch file gives a Secret", map[string]string{
			"kustomization.yaml": "resources: [s.yaml, cm.yaml]\npatches:\n- target: {kind: Secret}\n  path: p.yaml\n" + replacementOutOfBounds("stringData.PIN"),
			"s.yaml":             secretDoc("placeholder"),
			"p.yaml":             "- op: replace\n  path: /stringData/PIN\n  value: " + canary + "\n", "cm.yaml": configMapX}, "", "out of bounds"},
		{"a Secret's stringData of several lines, printed as a YAML block", map[string]string{
			"kustomization.yaml": "resources: [s.yaml, cm.yaml]\n" + replacementOutOfBounds("stringData.PIN"),
			"s.yaml":             "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: |\n  " + canary + "\n  second line\n", "cm.yaml": configMapX}, "", "node contents"},
		{"a secretGenerator literal", map[string]string{
			"kustomization.yaml": "secretGenerator:\n- name: s\n  literals: [" + canary + "]\n"}, "", "literal"},
		{"a secretGenerator file", map[string]string{
			"kustomization.yaml": "resources: [cm.yaml]\nsecretGenerator:\n- name: s\n  files: [PIN=pin.txt]\n" + replacementOutOfBounds("data.PIN"),
			"pin.txt":            canary, "cm.yaml": configMapX}, "", "out of bounds"},
		{"a secretGenerator env file", map[string]string{
			"kustomization.yaml": "resources: [cm.yaml]\nsecretGenerator:\n- name: s\n  envs: [pin.env]\n" + replacementOutOfBounds("data.PIN"),
			"pin.env":            "PIN=" + canary + "\n", "cm.yaml": configMapX}, "", "out of bounds"},
		{"a SecretGenerator config among generators", map[string]string{
			"kustomization.yaml": "generators: [gen.yaml]\n",
			"gen.yaml":           "apiVersion: builtin\nkind: SecretGenerator\nmetadata: {name: s}\nliterals: [" + canary + "]\n"}, "", "literal"},
		{"a Secret's value copied into a label no server accepts", map[string]string{
			"kustomization.yaml": "resources: [s.yaml, cm.yaml]\nreplacements:\n- source: {kind: Secret, name: s, fieldPath: stringData.PIN}\n  targets:\n  - select: {kind: ConfigMap}\n    fieldPaths: [metadata.labels.pin]\n    options: {create: true}\n",
			"s.yaml":             secretDoc(canary + " !"), "cm.yaml": configMapX}, canary + " !", "metadata.labels"},
		{"a part of a Secret's value copied into a label no server accepts", map[string]string{
			"kustomization.yaml": "resources: [s.yaml, cm.yaml]\nreplacements: [{path: r.yaml}]\n",
			"r.yaml": "source: {kind: Secret, name: s, fieldPath: stringData.PIN, options: {delimiter: '/', index: 1}}\ntargets:\n" +
				"- select: {kind: ConfigMap}\n  fieldPaths: [metadata.labels.pin]\n  options: {create: true}\n",
			"s.yaml": secretDoc("user/" + canary + " !"), "cm.yaml": configMapX}, canary + " !", "metadata.labels"},
		{"a long Secret value copied into a name, cut where the error quotes it", map[string]string{
			"kustomization.yaml": "resources: [s.yaml, cm.yaml]\nreplacements:\n- source: {kind: Secret, name: s, fieldPath: stringData.PIN}\n  targets:\n  - select: {kind: ConfigMap}\n    fieldPaths: [metadata.namespace]\n    options: {create: true}\n",
			"s.yaml":             secretDoc(long), "cm.yaml": configMapX}, long, "RFC 1123"},
		{"kustomize: a Secret under a key that is null", map[string]string{
			"kustomization.yaml": "resources: [s.yaml]\n",
			"s.yaml":             "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData:\n  ~: \"" + canary + "\"\n"}, "", "not a string"},
		{"plain: a Secret under a key that is null", map[string]string{
			"s.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData:\n  ~: \"" + canary + "\"\n"}, "", "not a string"},
		{"plain: a Secret under a key that is a list", map[string]string{
			"s.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData:\n  ? [a]\n  : \"" + canary + "\"\n"}, "", "a key is a list"},
		{"plain: a Secret under a key that is a list, in a List", map[string]string{
			"s.yaml": "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: s}\n  stringData:\n    ? {a: b}\n    : \"" + canary + "\"\n"}, "", "a key is a mapping"},
		{"plain: a Secret whose kind is binary, under a key that is null", map[string]string{
			"s.yaml": "apiVersion: v1\nkind: !!binary U2VjcmV0\nmetadata: {name: s}\nstringData:\n  ~: \"" + canary + "\"\n"}, "", "not a string"},
		{"plain: a Secret that is not YAML", map[string]string{
			"s.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData:\n  PIN: \"" + canary + "\"\n   broken: indent\n"}, "", "invalid YAML"},
		{"plain: a Secret value that is a number", map[string]string{
			"s.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {PIN: 918273}\n"}, "918273", "must be a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fsys := filesys.MakeFsInMemory()
			for name, content := range tc.files {
				if err := fsys.WriteFile("/r/"+name, []byte(content)); err != nil {
					t.Fatal(err)
				}
			}
			_, err := source.Render(fsys, "/r", source.DefaultRenderOptions())
			checkScrubbed(t, err, tc.value, tc.want)
		})
	}

	// The same through the sandbox a commit's kustomization is built in:
	// the error is scrubbed before it leaves the sandbox.
	c := commitAndFetch(t, map[string]string{
		"k/kustomization.yaml": "resources: [s.yaml, cm.yaml]\n" + replacementOutOfBounds("stringData.PIN"),
		"k/s.yaml":             secretDoc(canary), "k/cm.yaml": configMapX,
		"l/kustomization.yaml": "resources: [s.yaml, cm.yaml]\nreplacements:\n- source: {kind: Secret, name: s, fieldPath: stringData.PIN}\n  targets:\n  - select: {kind: ConfigMap}\n    fieldPaths: [metadata.labels.pin]\n    options: {create: true}\n",
		"l/s.yaml":             secretDoc(canary + " !"), "l/cm.yaml": configMapX,
	})
	for _, tc := range []struct{ path, value, want string }{{"k", canary, "out of bounds"}, {"l", canary + " !", "metadata.labels"}} {
		_, err := c.Render(context.Background(), tc.path, source.DefaultRenderOptions())
		checkScrubbed(t, err, tc.value, tc.want)
	}
}

// checkScrubbed fails the test unless err says want and holds no form of
// value (canary when empty).
func checkScrubbed(t *testing.T, err error, value, want string) {
	t.Helper()
	if value == "" {
		value = canary
	}
	if err == nil {
		t.Fatal("rendered, want an error")
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("the error does not say %q: the row tests another error than it means:\n%v", want, err)
	}
	if form := leaks(err.Error(), value); form != "" {
		t.Errorf("the error holds %q:\n%v", form, err)
	}
}
