package artifact

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// entry is one tar entry of a test layer.
type entry struct {
	name, body, link string
	typ              byte
	pax              map[string]string
}

func tarOf(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		size := int64(len(e.body))
		if typ != tar.TypeReg {
			size = 0
		}
		h := &tar.Header{Name: e.name, Typeflag: typ, Size: size, Mode: 0o644, Linkname: e.link, PAXRecords: e.pax}
		if err := w.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			if _, err := w.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sparse is a tar whose one file is a GNU sparse file (format 1.0, as GNU
// tar writes one in PAX records, which Go's writer will not write): a
// PAX header block, written by hand, then the file.
func sparse(t *testing.T) []byte {
	t.Helper()
	var records string
	for _, kv := range [][2]string{{"GNU.sparse.major", "1"}, {"GNU.sparse.minor", "0"}, {"GNU.sparse.name", "s"}, {"GNU.sparse.realsize", "1073741824"}} {
		rec := " " + kv[0] + "=" + kv[1] + "\n"
		n := len(rec) + 2
		if len(fmt.Sprint(n)+rec) != n {
			n++
		}
		records += fmt.Sprint(n) + rec
	}
	block := make([]byte, 512)
	copy(block, "PaxHeaders/s")
	copy(block[100:], "0000644\x00")
	copy(block[108:], "0000000\x00")
	copy(block[116:], "0000000\x00")
	copy(block[124:], fmt.Sprintf("%011o\x00", len(records)))
	copy(block[136:], "00000000000\x00")
	block[156] = 'x'
	copy(block[257:], "ustar\x0000")
	copy(block[148:], "        ")
	sum := 0
	for _, b := range block {
		sum += int(b)
	}
	copy(block[148:], fmt.Sprintf("%06o\x00 ", sum))
	data := append(block, records...)
	data = append(data, make([]byte, (512-len(records)%512)%512)...)
	var buf bytes.Buffer
	buf.Write(data)
	w := tar.NewWriter(&buf)
	// The sparse map (one region of one byte at 0), then the byte.
	body := "1\n0\n1\n" + strings.Repeat("\x00", 512-6) + "x"
	if err := w.WriteHeader(&tar.Header{Name: "s", Typeflag: tar.TypeReg, Size: int64(len(body)), Mode: 0o644}); err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(body))
	w.Close()
	return buf.Bytes()
}

func gz(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"

// TestExtract is a row per layer, hostile ones most: each names what the
// reader must refuse, or the files it must give.
func TestExtract(t *testing.T) {
	kib800 := strings.Repeat("a", 800<<10)
	bomb := gz(t, tarOf(t, entry{name: "1", body: kib800}, entry{name: "2", body: kib800}, entry{name: "3", body: kib800}))
	small := Limits{MaxBytes: 2 << 20, MaxFileBytes: 1 << 20, MaxEntries: 5, MaxLayerBytes: 1 << 20}
	rows := []struct {
		name   string
		layer  []byte
		limits Limits
		files  string // the files given, "path=body;…" in order
		err    string // a part of the error
	}{
		{name: "flux: tar+gzip, ./ prefix and directories", layer: gz(t, tarOf(t, entry{name: "./", typ: tar.TypeDir}, entry{name: "./app/", typ: tar.TypeDir}, entry{name: "./app/cm.yaml", body: cm})), files: "app/cm.yaml=" + cm},
		{name: "oras: plain tar, no prefix", layer: tarOf(t, entry{name: "a.yaml", body: "x"}, entry{name: "b/c.yaml", body: "y"}), files: "a.yaml=x;b/c.yaml=y"},
		{name: "path climbing out", layer: tarOf(t, entry{name: "../../etc/cron.d/x", body: "x"}), err: "climbs out of the artifact"},
		{name: "path climbing out after a directory", layer: tarOf(t, entry{name: "a/../../x", body: "x"}), err: "climbs out"},
		{name: "absolute path", layer: tarOf(t, entry{name: "/etc/passwd", body: "x"}), err: "must be relative"},
		{name: "backslash path", layer: tarOf(t, entry{name: "..\\x", body: "x"}), err: "must be relative"},
		{name: "symlink", layer: tarOf(t, entry{name: "l", typ: tar.TypeSymlink, link: "/etc/shadow"}), err: `"l" is a link (to "/etc/shadow")`},
		{name: "hard link", layer: tarOf(t, entry{name: "a", body: "x"}, entry{name: "h", typ: tar.TypeLink, link: "a"}), err: "is a link"},
		{name: "device", layer: tarOf(t, entry{name: "dev", typ: tar.TypeChar}), err: "tar type"},
		{name: "fifo", layer: tarOf(t, entry{name: "p", typ: tar.TypeFifo}), err: "tar type"},
		{name: "name too long", layer: tarOf(t, entry{name: strings.Repeat("n", 300), body: "x"}), err: "a name of more than 255"},
		{name: "path too long", layer: tarOf(t, entry{name: strings.Repeat("d/", 2100) + "f", body: "x"}), err: "a path of more than 4096"},
		{name: "too many entries", layer: tarOf(t, entry{name: "1", body: "x"}, entry{name: "2", body: "x"}, entry{name: "3", body: "x"}, entry{name: "4", body: "x"}, entry{name: "5", body: "x"}, entry{name: "6", body: "x"}), limits: small, err: "more than 5 entries"},
		{name: "file over its limit", layer: tarOf(t, entry{name: "f", body: strings.Repeat("x", 1<<20+1)}), limits: Limits{MaxFileBytes: 1 << 20}, err: "over the limit of 1048576 per file"},
		{name: "gzip bomb", layer: bomb, limits: small, err: "its files hold more than the limit of 2097152 bytes"},
		{name: "gzip bomb in headers", layer: gz(t, tarOf(t, entry{name: "a", body: "x", pax: map[string]string{"comment": strings.Repeat("c", 900<<10)}}, entry{name: "b", body: "x", pax: map[string]string{"comment": strings.Repeat("c", 900<<10)}}, entry{name: "c", body: "x", pax: map[string]string{"comment": strings.Repeat("c", 900<<10)}})), limits: small, err: "the layer decompressed is over the limit"},
		{name: "sparse file", layer: gz(t, sparse(t)), err: `"s" is a sparse file`},
		{name: "too deep", layer: tarOf(t, entry{name: strings.Repeat("d/", 64) + "f", body: "x"}), err: "more than 64 directories deep"},
		{name: "layer over its stored limit", layer: tarOf(t, entry{name: "f", body: strings.Repeat("x", 900<<10)}, entry{name: "g", body: strings.Repeat("y", 900<<10)}), limits: small, err: "the layer as stored is over the limit"},
		{name: "not a tar", layer: []byte(cm), err: "not a tar archive"},
		{name: "gzip of not a tar", layer: gz(t, []byte(cm)), err: "not a tar archive"},
		{name: "broken gzip", layer: []byte{0x1f, 0x8b, 0, 1, 2}, err: "gzip"},
		{name: "empty", layer: nil, err: "not a tar archive, or an empty one"},
		{name: "directories only", layer: tarOf(t, entry{name: "a/", typ: tar.TypeDir}), err: "holds no file"},
		{name: "file cut short", layer: tarOf(t, entry{name: "f", body: strings.Repeat("x", 2048)})[:1024], err: "f:"},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			var got []string
			err := Extract(bytes.NewReader(row.layer), row.limits, func(p string, data []byte) error {
				got = append(got, p+"="+string(data))
				return nil
			})
			if row.err != "" {
				if err == nil || !strings.Contains(err.Error(), row.err) {
					t.Fatalf("error %v, want one with %q", err, row.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := strings.Join(got, ";"); s != row.files {
				t.Fatalf("files %q, want %q", s, row.files)
			}
		})
	}
}

func TestSelectLayer(t *testing.T) {
	flux := v1.Descriptor{MediaType: FluxContentMediaType}
	tarLayer := v1.Descriptor{MediaType: "application/vnd.oci.image.layer.v1.tar"}
	rows := []struct {
		name   string
		layers []v1.Descriptor
		want   string
		got    string
		err    string
	}{
		{name: "first by default", layers: []v1.Descriptor{tarLayer, flux}, got: string(tarLayer.MediaType)},
		{name: "by media type", layers: []v1.Descriptor{tarLayer, flux}, want: FluxContentMediaType, got: FluxContentMediaType},
		{name: "media type absent", layers: []v1.Descriptor{tarLayer}, want: FluxContentMediaType, err: "no layer of media type " + FluxContentMediaType + " (it has application/vnd.oci.image.layer.v1.tar)"},
		{name: "no layer", err: "no layer"},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			l, err := selectLayer(&v1.Manifest{Layers: row.layers}, row.want)
			if row.err != "" {
				if err == nil || !strings.Contains(err.Error(), row.err) {
					t.Fatalf("error %v, want %q", err, row.err)
				}
				return
			}
			if err != nil || string(l.MediaType) != row.got {
				t.Fatalf("layer %s, %v; want %s", l.MediaType, err, row.got)
			}
		})
	}
}

func TestHighest(t *testing.T) {
	tags := []string{"latest", "v1.0.0", "1.2.0", "v1.10.1", "2.0.0-rc.1", "2.0.0", "main-abc"}
	rows := []struct{ constraint, want string }{
		{">=1.0.0 <2.0.0", "v1.10.1"},
		{"1.x", "v1.10.1"},
		{"^2", "2.0.0"},
		{"~1.2", "1.2.0"},
		{"3.x", ""},
	}
	for _, row := range rows {
		got, err := highest(tags, row.constraint)
		if got != row.want || (row.want == "") != (err != nil) {
			t.Errorf("%s: %q, %v; want %q", row.constraint, got, err, row.want)
		}
	}
}
