package source

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/sensitive"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// document is one YAML document of a file and where it starts.
type document struct {
	file string
	line int // 1-based line of the document's first line, for parser offsets
	body []byte
	// separator is what follows "---" on the line that starts the
	// document, when it is neither blank nor a comment: kubectl refuses
	// such a file, and so does decodeDocument.
	separator string
}

// where names the file and the document's first line that is neither blank
// nor a comment: where a reader finds the object.
func (d document) where() string {
	first := d.line
	for l := range bytes.Lines(d.body) {
		t := bytes.TrimSpace(l)
		if len(t) > 0 && t[0] != '#' {
			break
		}
		first++
	}
	return d.file + ":" + strconv.Itoa(first)
}

// splitDocuments splits a YAML stream at separator lines, keeping the line
// each document starts on so that errors can point into the file. As
// kubectl's YAMLReader (k8s.io/apimachinery/pkg/util/yaml) does, every line
// starting with "---" separates documents; one with more than a comment
// after it starts a document that decodeDocument refuses, rather than
// dropping what follows the dashes.
func splitDocuments(file string, data []byte) []document {
	var docs []document
	start, line := 1, 0
	var cur bytes.Buffer
	var sep string
	flush := func(next int) {
		if cur.Len() > 0 || sep != "" {
			docs = append(docs, document{file: file, line: start, body: bytes.Clone(cur.Bytes()), separator: sep})
		}
		cur.Reset()
		start, sep = next, ""
	}
	for rest := data; len(rest) > 0; {
		line++
		l := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			l, rest = rest[:i+1], rest[i+1:]
		} else {
			rest = nil
		}
		trimmed := bytes.TrimRight(l, "\r\n")
		if isSeparator(trimmed) {
			flush(line + 1)
			if after := bytes.TrimSpace(trimmed[3:]); len(after) > 0 && after[0] != '#' {
				sep, start = string(after), line
			}
			continue
		}
		cur.Write(l)
	}
	flush(0)
	return docs
}

// isSeparator reports whether a line separates documents: it starts with
// "---", as kubectl reads it, or is YAML's document end marker "...".
func isSeparator(l []byte) bool {
	return bytes.HasPrefix(l, []byte("---")) || bytes.Equal(l, []byte("..."))
}

// separatorError refuses content on the "---" line that starts d.
func separatorError(d document) error {
	return fmt.Errorf("%s:%d: content after the document separator ---: kubectl refuses it (invalid Yaml document separator): start the document on the next line", d.file, d.line)
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// decodeDocument parses one document into objects, flattening *List kinds. A
// document holding only comments or whitespace yields nothing. What kubectl
// refuses is refused here, naming the file and line: content on a "---"
// line, a key twice in one mapping (YAML parsers keep one silently),
// fields of the wrong type where gantry reads them (object.Validate), a
// List whose items are not a list. So is what kubectl apply -f and
// kustomize would read differently (checkReadings). Its errors hold no
// value of a Secret the document describes (scrubDocument).
func decodeDocument(d document) (objs []*unstructured.Unstructured, err error) {
	defer func() { err = scrubDocument(d, err) }()
	if d.separator != "" {
		return nil, separatorError(d)
	}
	parsed, err := checkReadings(d, readPlain)
	if err != nil {
		return nil, err
	}
	// Duplicate keys are refused by checkReadings, which knows that a key
	// may override what a merge (<<) provides; what it cannot parse is
	// converted strictly, duplicates refused by the converter.
	convert := yaml.YAMLToJSON
	if !parsed {
		convert = yaml.YAMLToJSONStrict
	}
	js, err := convert(d.body)
	if err != nil {
		return nil, fmt.Errorf("%s: invalid YAML: %s", d.file, describeYAMLError(err.Error(), d.line))
	}
	if bytes.Equal(bytes.TrimSpace(js), []byte("null")) {
		return nil, nil
	}
	var v any
	if err := utiljson.Unmarshal(js, &v); err != nil {
		return nil, fmt.Errorf("%s: %w", d.where(), err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: not a Kubernetes object: expected a mapping with apiVersion and kind, found %s", d.where(), object.Describe(v))
	}
	if kind, ok := m["kind"].(string); ok && strings.HasSuffix(kind, "List") {
		if items, ok := m["items"]; ok {
			return flattenList(d, kind, items)
		}
	}
	u := &unstructured.Unstructured{Object: m}
	if err := object.Validate(u); err != nil {
		return nil, fmt.Errorf("%s: %w", d.where(), err)
	}
	return []*unstructured.Unstructured{u}, nil
}

// flattenList returns the objects of a List's items, refusing items that
// are not a list of valid objects.
func flattenList(d document, kind string, items any) ([]*unstructured.Unstructured, error) {
	list, ok := items.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: %s: items must be a list of objects, found %s", d.where(), kind, object.Describe(items))
	}
	out := make([]*unstructured.Unstructured, 0, len(list))
	for i, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: %s items[%d]: not a Kubernetes object: found %s", d.where(), kind, i, object.Describe(item))
		}
		u := &unstructured.Unstructured{Object: m}
		if err := object.Validate(u); err != nil {
			return nil, fmt.Errorf("%s: %s items[%d]: %w", d.where(), kind, i, err)
		}
		out = append(out, u)
	}
	return out, nil
}

var duplicateKey = regexp.MustCompile(`line (\d+): key (".*") already set in map`)

// describeYAMLError rewrites a YAML parser message for people: line numbers
// counted from the start of the file, and a duplicate key said plainly.
func describeYAMLError(msg string, docStart int) string {
	msg = absoluteLines(msg, docStart)
	if m := duplicateKey.FindAllStringSubmatch(msg, -1); m != nil {
		var parts []string
		for _, x := range m {
			parts = append(parts, fmt.Sprintf("line %s: key %s appears twice in the same mapping", x[1], x[2]))
		}
		return strings.Join(parts, "; ") + ": remove one of them (the API server refuses duplicate fields; YAML readers, kubectl apply -f's included, keep one of them silently)"
	}
	return msg
}

// absoluteLines rewrites "line N" in a YAML parser message, which counts from
// the start of the document, to count from the start of the file.
func absoluteLines(msg string, docStart int) string {
	msg = strings.TrimPrefix(msg, "error converting YAML to JSON: ")
	msg = strings.TrimPrefix(msg, "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n")
	return yamlLine.ReplaceAllStringFunc(msg, func(s string) string {
		n, _ := strconv.Atoi(strings.TrimPrefix(s, "line "))
		return "line " + strconv.Itoa(n+docStart-1)
	})
}

// objectName names an object by what of its kind and name it has.
func objectName(js []byte) string {
	var o struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	_ = json.Unmarshal(js, &o)
	return strings.TrimSuffix(o.Kind+" "+o.Metadata.Name, " ")
}

// decodeObject decodes one object's JSON and validates it.
func decodeObject(js []byte) (*unstructured.Unstructured, error) {
	var m map[string]any
	if err := utiljson.Unmarshal(js, &m); err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: m}
	if err := object.Validate(u); err != nil {
		return nil, sensitive.Policy{}.ScrubError(err, u) // the stack's declared fields are not known here: Secrets
	}
	return u, nil
}

// readManifests reads every manifest file under dir (or dir itself, when it is
// a file) in lexical path order, skipping dot-files and dot-directories,
// at most limit objects (0: no limit). Its errors hold no value of a
// Secret it read.
func readManifests(fsys filesys.FileSystem, dir string, limit int) ([]*unstructured.Unstructured, error) {
	var files []string
	err := fsys.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		hidden := strings.HasPrefix(info.Name(), ".") && p != dir
		if info.IsDir() {
			if hidden {
				return filepath.SkipDir
			}
			return nil
		}
		if !hidden && (p == dir || slices.Contains(manifestExts, strings.ToLower(path.Ext(p)))) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", display(dir), err)
	}
	slices.Sort(files)

	return decodeFiles(len(files), func(i int) (namedData, error) {
		data, err := fsys.ReadFile(files[i])
		if err != nil {
			return namedData{}, fmt.Errorf("read %s: %w", display(files[i]), err)
		}
		return namedData{name: display(files[i]), data: data}, nil
	}, limit)
}

// namedData is a file's content and the name errors give it.
type namedData struct {
	name string
	data []byte
}

// decodeFiles decodes the documents of n files, read in order by read, into
// objects: at most limit (0: no limit), no object twice. Its errors, read's
// included, hold no value of a Secret it decoded.
func decodeFiles(n int, read func(int) (namedData, error), limit int) ([]*unstructured.Unstructured, error) {
	m := newMerger(limit)
	for i := range n {
		f, err := read(i)
		if err != nil {
			return nil, m.secrets.scrub(err)
		}
		docs, err := decodeFile(f)
		if err := m.add(docs, err); err != nil {
			return nil, err
		}
	}
	return m.out, nil
}

// decodeAll is decodeFiles of files already read, decoded on every core
// (a chart's rendered output), merged in order: the same objects, the
// same first error. Decoding stops early once the objects passed limit.
func decodeAll(files []namedData, limit int) ([]*unstructured.Unstructured, error) {
	workers := min(runtime.GOMAXPROCS(0), 4, len(files)/4)
	if workers < 2 {
		return decodeFiles(len(files), func(i int) (namedData, error) { return files[i], nil }, limit)
	}
	docs := make([][]decodedDoc, len(files))
	errs := make([]error, len(files))
	done := make([]bool, len(files))
	var made atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(files); i += workers {
				if limit > 0 && made.Load() > int64(limit) {
					return // the merge refuses them in order
				}
				docs[i], errs[i] = decodeFile(files[i])
				done[i] = true
				for _, d := range docs[i] {
					made.Add(int64(len(d.objs)))
				}
			}
		}()
	}
	wg.Wait()
	m := newMerger(limit)
	for i := range files {
		if !done[i] { // left once the objects passed the limit: the merge stops at it, or soon after
			docs[i], errs[i] = decodeFile(files[i])
		}
		if err := m.add(docs[i], errs[i]); err != nil {
			return nil, err
		}
	}
	return m.out, nil
}

// decodedDoc is a document and the objects decoded from it.
type decodedDoc struct {
	doc  document
	objs []*unstructured.Unstructured
}

// decodeFile decodes the documents of one file; its error (of the first
// document that failed) is scrubbed of that document's Secret values only.
func decodeFile(f namedData) ([]decodedDoc, error) {
	var out []decodedDoc
	for _, d := range splitDocuments(f.name, f.data) {
		objs, err := decodeDocument(d)
		if err != nil {
			return out, err
		}
		out = append(out, decodedDoc{d, objs})
	}
	return out, nil
}

// merger gathers decoded documents in file order: no object twice, at
// most limit, errors scrubbed of the Secret values decoded before them.
type merger struct {
	out     []*unstructured.Unstructured
	first   map[object.Ref]string
	secrets secretValues // of the documents merged so far; a document's own are scrubbed by decodeDocument
	limit   int
}

func newMerger(limit int) *merger { return &merger{first: map[object.Ref]string{}, limit: limit} }

// add merges one file's documents, then returns its error, if any, of
// the document after them (scrubbed of theirs too).
func (m *merger) add(docs []decodedDoc, err error) error {
	for _, d := range docs {
		for _, u := range d.objs {
			ref := object.RefOf(u)
			if prev, dup := m.first[ref]; dup {
				return fmt.Errorf("%s: %s is defined twice (first at %s): remove one of them", d.doc.where(), ref, prev)
			}
			m.first[ref] = d.doc.where()
			m.secrets.object(u.Object)
			if m.out = append(m.out, u); m.limit > 0 && len(m.out) > m.limit {
				return fmt.Errorf("%s: %w", d.doc.where(), tooManyObjects(m.limit))
			}
		}
	}
	if err != nil {
		return m.secrets.scrub(err)
	}
	return nil
}
