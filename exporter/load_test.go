package exporter

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/xbuild/xbuild/content"
)

func TestLoadRefusesBadEntries(t *testing.T) {
	good := []byte("good blob")
	goodPath := blobPath(digest.FromBytes(good))
	evil := []byte("evil content")
	claimed := digest.FromString("what the name promises")
	tests := []struct {
		name    string
		entries []tarEntry
		want    string // in the error
	}{
		{"dotdot", []tarEntry{file(goodPath, good), file("../evil", evil)}, `"../evil"`},
		{"inner dotdot", []tarEntry{file("blobs/../../evil", evil)}, `"blobs/../../evil"`},
		{"absolute", []tarEntry{file("/abs", evil)}, `"/abs": absolute path`},
		{"absolute blob", []tarEntry{file("/"+goodPath, good)}, "absolute path"},
		{"symlink", []tarEntry{{hdr: tar.Header{Name: "blobs/sha256/" + claimed.Encoded(), Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}}}, "only regular files"},
		{"symlink dir", []tarEntry{{hdr: tar.Header{Name: "blobs", Typeflag: tar.TypeSymlink, Linkname: "/tmp"}}}, `"blobs": only regular files`},
		{"hardlink", []tarEntry{file(goodPath, good), {hdr: tar.Header{Name: "index.json", Typeflag: tar.TypeLink, Linkname: "/etc/shadow"}}}, `"index.json": only regular files`},
		{"device", []tarEntry{{hdr: tar.Header{Name: "dev", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}}}, `"dev"`},
		{"mismatch", []tarEntry{file("blobs/sha256/"+claimed.Encoded(), evil)}, `"blobs/sha256/` + claimed.Encoded() + `"`},
		{"not hex", []tarEntry{file("blobs/sha256/nothex", evil)}, "not a blob path"},
		{"short hex", []tarEntry{file("blobs/sha256/abcd", evil)}, "not a blob path"},
		{"deep blob", []tarEntry{file("blobs/sha256/x/"+claimed.Encoded(), evil)}, "not a blob path"},
		{"other algorithm", []tarEntry{file("blobs/md5/d41d8cd98f00b204e9800998ecf8427e", evil)}, "unsupported digest algorithm"},
		{"big index", []tarEntry{file("index.json", bytes.Repeat([]byte(" "), maxMetaSize+1))}, "too large"},
		{"no layout", []tarEntry{file(goodPath, good)}, "no index.json or manifest.json"},
		{"missing manifest", []tarEntry{file("index.json", []byte(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"`+claimed.String()+`","size":3}]}`))}, "not in the archive"},
		{"missing layer file", []tarEntry{file("manifest.json", []byte(`[{"Config":"c.json","Layers":["l/layer.tar"]}]`))}, `"c.json", which is not in the archive`},
		{"escaping manifest path", []tarEntry{file("manifest.json", []byte(`[{"Config":"../c.json"}]`))}, `bad path`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			before := listDir(t, filepath.Dir(e.root.Dir))
			cwd := listDir(t, ".")
			_, err := Load(context.Background(), e.src, bytes.NewReader(buildTar(t, tt.entries...)))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load error = %v, want one containing %q", err, tt.want)
			}
			for _, d := range []digest.Digest{claimed, digest.FromBytes(evil)} {
				if _, err := e.src.Blobs.Info(context.Background(), d); !errors.Is(err, content.ErrNotFound) {
					t.Errorf("blob %s stored", d)
				}
			}
			e.checkTmpEmpty(t)
			if after := listDir(t, filepath.Dir(e.root.Dir)); after != before {
				t.Errorf("files appeared next to the state dir: %s", after)
			}
			if after := listDir(t, "."); after != cwd {
				t.Errorf("files appeared in the working dir: %s", after)
			}
		})
	}
}

func listDir(t *testing.T, dir string) string {
	ents, err := os.ReadDir(dir)
	must(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return strings.Join(names, ",")
}

func TestLoadTruncated(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	a, _ := twoImages(t, e)
	var buf bytes.Buffer
	must(t, WriteOCITar(ctx, e.src, []Named{{Image: a, Names: []string{"docker.io/library/app:1"}}}, &buf))
	// The big base layer is the first layer blob; cut the archive inside it.
	big := a.Manifest.Layers[0]
	at := bytes.Index(buf.Bytes(), []byte(blobPath(big.Digest))) // its tar header
	if at < 0 {
		t.Fatal("layer entry not found")
	}
	cut := buf.Bytes()[:at+int(big.Size)/2]
	for _, c := range []struct {
		name string
		data []byte
	}{{"plain", cut}, {"gzip", gzipped(t, cut)}} {
		t.Run(c.name, func(t *testing.T) {
			f := newEnv(t)
			_, err := Load(ctx, f.src, bytes.NewReader(c.data))
			if err == nil || !strings.Contains(err.Error(), blobPath(big.Digest)) {
				t.Fatalf("Load of a truncated archive: %v", err)
			}
			if _, err := f.src.Blobs.Info(ctx, big.Digest); !errors.Is(err, content.ErrNotFound) {
				t.Error("truncated blob stored")
			}
			f.checkTmpEmpty(t)
		})
	}
	// Cut right after a header block: the entry's data is missing.
	hdrEnd := at - at%512 + 512
	_, err := Load(ctx, newEnv(t).src, bytes.NewReader(buf.Bytes()[:hdrEnd]))
	if err == nil || !strings.Contains(err.Error(), blobPath(big.Digest)) {
		t.Fatalf("Load of an archive cut after a header: %v", err)
	}
}

func gzipped(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(b)
	must(t, err)
	must(t, zw.Close())
	return buf.Bytes()
}

func TestLoadCompressedArchive(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	a, _ := twoImages(t, e)
	var buf bytes.Buffer
	must(t, WriteDocker(ctx, e.src, []Named{{Image: a}}, &buf))
	got, err := Load(ctx, newEnv(t).src, bytes.NewReader(gzipped(t, buf.Bytes())))
	must(t, err)
	if len(got) != 1 || got[0].Image.Descriptor.Digest != a.Descriptor.Digest {
		t.Fatalf("loaded %+v", got)
	}
}

func TestLoadDirRefusesSymlinks(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	a, _ := twoImages(t, e)
	dir := t.TempDir()
	must(t, WriteOCIDir(ctx, e.src, []Named{{Image: a}}, dir))
	cfg := filepath.Join(dir, filepath.FromSlash(blobPath(a.ID())))
	must(t, os.Remove(cfg))
	must(t, os.Symlink("/etc/passwd", cfg))
	_, err := LoadDir(ctx, newEnv(t).src, dir)
	if err == nil || !strings.Contains(err.Error(), blobPath(a.ID())) {
		t.Fatalf("LoadDir with a symlinked blob: %v", err)
	}
}
