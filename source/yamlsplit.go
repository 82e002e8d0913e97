package source

import (
	"bytes"
	"regexp"
	"strings"
)

// How the readers of a render split a YAML stream into documents, so that
// the YAML bounds measure what each of them parses. A YAML decoder reads
// the stream whole; kyaml's kio.ByteReader cuts it at lines starting with
// "---" and decodes the first document of each chunk; the manifest reader
// (splitDocuments) cuts it at "---" lines and "..." and decodes each.

// chunk is a part of a YAML stream parsed on its own.
type chunk struct {
	line int // lines before it in the stream
	body []byte
}

// splits returns kyaml's chunks of data (unless kyaml refuses the stream)
// and the manifest reader's.
func splits(data []byte) [][]chunk {
	var out [][]chunk
	if k, ok := kyamlChunks(data); ok {
		out = append(out, k)
	}
	var m []chunk
	for _, d := range splitDocuments("", data) {
		m = append(m, chunk{line: d.line - 1, body: d.body})
	}
	return append(out, m)
}

// chunksAreDocuments reports whether every chunk a reader cuts data into
// is one document of the stream as a YAML decoder reads it, from the same
// bytes, when that decoder reads the stream without error: data is UTF-8
// (UTF-16 puts zero bytes between the characters the readers look for),
// no line starts with "...", and every line starting with "---" is a
// document marker alone ("---", then at most blanks and a comment), where
// every reader cuts and a YAML decoder starts a document (a block scalar
// ends at column 0, a plain one at a marker, a quoted one or a flow
// collection is an error there). Then measuring the stream measures every
// chunk, and more: aliases of an anchor in an earlier document, which a
// chunk alone could not resolve.
func chunksAreDocuments(data []byte) bool {
	if utf16(data) {
		return false
	}
	for line := range bytes.Lines(data) {
		if bytes.HasPrefix(line, []byte("...")) {
			return false
		}
		if !bytes.HasPrefix(line, []byte("---")) {
			continue
		}
		rest := bytes.TrimRight(line[3:], "\r\n")
		if len(rest) > 0 && rest[0] != ' ' && rest[0] != '\t' {
			return false // "---x": no marker to a YAML decoder, a cut to kyaml
		}
		if r := bytes.TrimLeft(rest, " \t"); len(r) > 0 && r[0] != '#' {
			return false // "--- x": a document starting on the marker's line
		}
	}
	return true
}

// utf16 reports whether data starts with a UTF-16 byte order mark, which
// makes YAML parsers read it as UTF-16.
func utf16(data []byte) bool {
	return bytes.HasPrefix(data, []byte{0xff, 0xfe}) || bytes.HasPrefix(data, []byte{0xfe, 0xff})
}

// kyamlSeparator is kio.ByteReader's document separator.
var kyamlSeparator = regexp.MustCompile(`\n---.*\n`)

// kyamlChunks splits data as kio.ByteReader does (splitDocuments in
// kyaml/kio/byteio_reader.go): "\r\n" made "\n", then cut at every line
// starting with "---"; it refuses the whole stream (false) when one such
// line holds more than a comment.
func kyamlChunks(data []byte) ([]chunk, bool) {
	s := strings.ReplaceAll(string(data), "\r\n", "\n")
	var out []chunk
	prev, line := 0, 0
	for _, loc := range kyamlSeparator.FindAllStringIndex(s, -1) {
		rest := strings.TrimSpace(s[loc[0]+4 : loc[1]])
		if rest != "" && rest[0] != '#' {
			return nil, false
		}
		out = append(out, chunk{line: line, body: []byte(s[prev:loc[0]] + "\n")})
		line += strings.Count(s[prev:loc[1]], "\n")
		prev = loc[1]
	}
	return append(out, chunk{line: line, body: []byte(s[prev:])}), true
}

// depthBound is an upper bound of the nesting of every document of a YAML
// stream, read without parsing: a block node's parents sit at smaller
// indents, except that a mapping and its sequence value may share one (two
// levels per indent); a line opens at most two levels per indicator ("- ",
// "? ", ": ") on it; and flow collections open one per bracket, all the
// brackets of a document counted. No reader's document spans a line
// starting with "---" and a blank (every reader cuts there, or fails), so
// brackets are counted between such lines. It serves only UTF-8 data
// without aliases (mayAlias), whose nesting the YAML parsers bound
// themselves (10,000 levels): the parse it saves is not a safety one.
func depthBound(data []byte) int {
	maxIndent, maxIndicators, brackets, most := 0, 0, 0, 0
	for line := range bytes.Lines(data) {
		if bytes.HasPrefix(line, []byte("---")) && (len(line) == 3 || strings.IndexByte(" \t\r\n", line[3]) >= 0) {
			brackets = 0
		}
		indent := len(line) - len(bytes.TrimLeft(line, " "))
		maxIndent = max(maxIndent, indent)
		indicators := 0
		for i, c := range line {
			switch c {
			case '[', '{':
				brackets++
			case '-', '?', ':':
				if i+1 == len(line) || line[i+1] == ' ' || line[i+1] == '\n' || line[i+1] == '\r' || line[i+1] == '\t' {
					indicators++
				}
			}
		}
		maxIndicators = max(maxIndicators, indicators)
		most = max(most, brackets)
	}
	return 2*(maxIndent+1) + 2*maxIndicators + most
}
