package artifact

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// Limits bound what an artifact's layer may hold. A layer is hostile
// until read: its compressed size, its size once decompressed (a gzip bomb
// stops at MaxBytes), its entries and each file are bounded, and an entry
// that is not a plain file or directory, or whose path is not a clean
// relative one, is refused by name.
type Limits struct {
	// MaxLayerBytes bounds the layer as stored (0: 64 MiB).
	MaxLayerBytes int64
	// MaxBytes bounds the layer once decompressed, tar headers included
	// (0: 256 MiB, a render's default budget).
	MaxBytes int64
	// MaxFileBytes bounds each file (0: 32 MiB, a render's default).
	MaxFileBytes int64
	// MaxEntries bounds the tar's entries (0: 100,000).
	MaxEntries int
}

func (l Limits) withDefaults() Limits {
	if l.MaxLayerBytes <= 0 {
		l.MaxLayerBytes = 64 << 20
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = 256 << 20
	}
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = 32 << 20
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = 100000
	}
	return l
}

// Extract reads a layer (a tar, gzipped or not: `oras push` of a file
// keeps whatever it was given) and calls add for each regular file, by its
// clean relative path, within l. Directories are implied by the files'
// paths; empty ones are dropped. The layer is read to its end, so that a
// reader verifying its digest at EOF has the last word.
func Extract(layer io.Reader, l Limits, add func(path string, data []byte) error) error {
	l = l.withDefaults()
	stored := &capped{r: layer, left: l.MaxLayerBytes, what: "the layer as stored"}
	br := bufio.NewReader(stored)
	var r io.Reader = br
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
		defer gz.Close()
		r = gz
	}
	unpacked := &capped{r: r, left: l.MaxBytes, what: "the layer decompressed"}
	files, err := extractTar(tar.NewReader(unpacked), l, add)
	if err == nil {
		_, err = io.Copy(io.Discard, unpacked) // the padding, and the digest check at EOF
	}
	if err == nil {
		_, err = io.Copy(io.Discard, br)
	}
	if err == nil && files == 0 {
		err = errors.New("it holds no file")
	}
	return err
}

// extractTar reads the entries of t, returning the files added.
func extractTar(t *tar.Reader, l Limits, add func(string, []byte) error) (int, error) {
	files, declared := 0, int64(0)
	for entries := 0; ; entries++ {
		h, err := t.Next()
		if errors.Is(err, io.EOF) {
			if entries == 0 {
				return 0, errors.New("not a tar archive, or an empty one: an artifact's layer is a tar (gzipped or not) of manifests")
			}
			return files, nil
		}
		if err != nil {
			return files, fmt.Errorf("not a tar archive (entry %d): %w", entries+1, err)
		}
		if entries >= l.MaxEntries {
			return files, fmt.Errorf("more than %d entries", l.MaxEntries)
		}
		p, err := entryPath(h)
		if err != nil {
			return files, err
		}
		if h.Typeflag == tar.TypeDir || p == "" {
			continue
		}
		if h.Size > l.MaxFileBytes {
			return files, fmt.Errorf("%s is %d bytes, over the limit of %d per file", p, h.Size, l.MaxFileBytes)
		}
		// The sizes the headers declare count too: a sparse file's holes
		// are zeros the reader makes, never read from the layer.
		if declared += h.Size; declared > l.MaxBytes {
			return files, fmt.Errorf("its files hold more than the limit of %d bytes", l.MaxBytes)
		}
		data, err := io.ReadAll(io.LimitReader(t, h.Size))
		if err != nil {
			return files, fmt.Errorf("%s: %w", p, err)
		}
		if err := add(p, data); err != nil {
			return files, fmt.Errorf("%s: %w", p, err)
		}
		files++
	}
}

// entryPath is the clean relative path of a tar entry ("" for the root
// directory); an entry that is not a regular file, a directory or a tar
// extended header is refused by name, as is a path that is absolute or
// climbs out of the artifact.
func entryPath(h *tar.Header) (string, error) {
	switch h.Typeflag {
	case tar.TypeReg, tar.TypeDir:
	case tar.TypeXGlobalHeader:
		return "", nil
	case tar.TypeSymlink, tar.TypeLink:
		return "", fmt.Errorf("%q is a link (to %q): an artifact's files must be regular files", h.Name, h.Linkname)
	default:
		return "", fmt.Errorf("%q is of tar type %q: an artifact's files must be regular files", h.Name, string(h.Typeflag))
	}
	for k := range h.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return "", fmt.Errorf("%q is a sparse file: an artifact's files must be regular files", h.Name)
		}
	}
	name := strings.TrimPrefix(h.Name, "./")
	if strings.ContainsAny(name, "\\\x00") || path.IsAbs(name) {
		return "", fmt.Errorf("%q: an entry's path must be relative, with / between its parts", h.Name)
	}
	if len(name) > maxPath {
		return "", fmt.Errorf("%.64q…: a path of more than %d bytes", h.Name, maxPath)
	}
	parts := strings.Split(strings.TrimSuffix(name, "/"), "/")
	if len(parts) > maxDepth {
		return "", fmt.Errorf("%.64q…: more than %d directories deep", h.Name, maxDepth)
	}
	for _, part := range parts {
		if part == ".." {
			return "", fmt.Errorf("%q climbs out of the artifact", h.Name)
		}
		if len(part) > maxName {
			return "", fmt.Errorf("%.64q…: a name of more than %d bytes", h.Name, maxName)
		}
	}
	p := path.Clean(name)
	if p == "." {
		p = ""
	}
	return p, nil
}

// maxPath and maxName are Linux's PATH_MAX and NAME_MAX, which a
// render's view of a tree enforces too.
const maxPath, maxName = 4096, 255

// maxDepth bounds the parts of an entry's path: each directory is a tree
// object of the store.
const maxDepth = 64

// capped reads at most left bytes of r, then fails naming what.
type capped struct {
	r    io.Reader
	left int64
	what string
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left < int64(len(p)) {
		p = p[:c.left+1] // one byte past the limit tells it is passed
	}
	n, err := c.r.Read(p)
	if int64(n) > c.left {
		return 0, fmt.Errorf("%s is over the limit", c.what)
	}
	c.left -= int64(n)
	return n, err
}
