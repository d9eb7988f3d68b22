package layer

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/xbuild/xbuild/content"
)

func newStore(t testing.TB) (*content.Store, string) {
	t.Helper()
	root := t.TempDir()
	s, err := content.NewStore(root)
	must(t, err)
	return s, root
}

func TestWriteUnpack(t *testing.T) {
	upper := buildUpper(t)
	raw := diffBytes(t, upper)
	ctx := context.Background()
	for _, tc := range []struct {
		c  Compression
		mt string
	}{
		{Gzip, ocispec.MediaTypeImageLayerGzip},
		{Zstd, ocispec.MediaTypeImageLayerZstd},
		{Uncompressed, ocispec.MediaTypeImageLayer},
	} {
		t.Run(string(tc.c), func(t *testing.T) {
			store, _ := newStore(t)
			l, err := Write(ctx, store, tc.c, func(w io.Writer) error { return WriteDiff(ctx, upper, w) })
			must(t, err)
			if l.DiffID != digest.FromBytes(raw) || l.Size != int64(len(raw)) {
				t.Errorf("diffID %s size %d, want %s %d", l.DiffID, l.Size, digest.FromBytes(raw), len(raw))
			}
			blob, err := os.ReadFile(store.Path(l.Descriptor.Digest))
			must(t, err)
			d := l.Descriptor
			if d.MediaType != tc.mt || d.Digest != digest.FromBytes(blob) || d.Size != int64(len(blob)) {
				t.Errorf("descriptor %+v, blob %s %d", d, digest.FromBytes(blob), len(blob))
			}
			if tc.c == Uncompressed && d.Digest != l.DiffID {
				t.Errorf("uncompressed blob digest %s != diffID %s", d.Digest, l.DiffID)
			}
			if tc.c != Uncompressed && len(blob) >= len(raw) {
				t.Errorf("blob %d bytes, tar %d: not compressed", len(blob), len(raw))
			}
			checkDecompress(t, blob, raw)

			dir := t.TempDir()
			n, err := Unpack(ctx, store, d, l.DiffID, dir)
			must(t, err)
			if n != l.Size {
				t.Errorf("Unpack read %d bytes, want %d", n, l.Size)
			}
			compareTrees(t, upper, dir)

			_, err = Unpack(ctx, store, d, EmptyDiffID, t.TempDir())
			if err == nil || !strings.Contains(err.Error(), "diff ID") {
				t.Errorf("Unpack with a wrong diffID: %v", err)
			}
		})
	}
}

func checkDecompress(t *testing.T, blob, raw []byte) {
	t.Helper()
	rc, err := Decompress(bytes.NewReader(blob))
	must(t, err)
	got, err := io.ReadAll(rc)
	must(t, err)
	must(t, rc.Close())
	if !bytes.Equal(got, raw) {
		t.Errorf("Decompress gave %d bytes, want the %d-byte tar", len(got), len(raw))
	}
}

func TestWriteFnFails(t *testing.T) {
	store, root := newStore(t)
	boom := errors.New("boom")
	for _, c := range []Compression{Gzip, Zstd, Uncompressed} {
		_, err := Write(context.Background(), store, c, func(w io.Writer) error {
			w.Write(semiCompressible(3<<20, 1))
			return boom
		})
		if !errors.Is(err, boom) {
			t.Errorf("%s: err %v, want fn's error", c, err)
		}
	}
	for _, d := range []string{"blobs/sha256", "tmp"} {
		ents, err := os.ReadDir(filepath.Join(root, d))
		must(t, err)
		if len(ents) != 0 {
			t.Errorf("%s holds %d files after failed writes", d, len(ents))
		}
	}
}

func TestWriteUnknownCompression(t *testing.T) {
	store, _ := newStore(t)
	called := false
	_, err := Write(context.Background(), store, "lz4", func(io.Writer) error { called = true; return nil })
	if err == nil || called {
		t.Errorf("err %v, fn called %v", err, called)
	}
}

// TestCompressionReproducible checks that a blob's bytes (and so its
// digest) depend neither on how many CPUs compressed it nor on how the tar
// was cut into writes. Zstd needs over 32 MiB to use two concurrent jobs.
func TestCompressionReproducible(t *testing.T) {
	for c, size := range map[Compression]int{Gzip: 5 << 20, Zstd: 40 << 20} {
		data := semiCompressible(size, 2)
		var outs [][]byte
		for _, run := range []struct{ procs, chunk int }{{1, 100_000}, {4, 7 << 20}} {
			var buf bytes.Buffer
			zw, err := newCompressor(c, &buf, run.procs)
			must(t, err)
			for b := data; len(b) > 0; b = b[min(len(b), run.chunk):] {
				_, err := zw.Write(b[:min(len(b), run.chunk)])
				must(t, err)
			}
			must(t, zw.Close())
			outs = append(outs, buf.Bytes())
		}
		if !bytes.Equal(outs[0], outs[1]) {
			t.Errorf("%s: output differs with CPUs and write sizes", c)
		}
		checkDecompress(t, outs[0], data)
	}
}

func TestDecompressShortPlain(t *testing.T) {
	for _, in := range []string{"", "ab", "\x1f"} {
		rc, err := Decompress(strings.NewReader(in))
		must(t, err)
		got, err := io.ReadAll(rc)
		must(t, err)
		if string(got) != in {
			t.Errorf("Decompress(%q) = %q", in, got)
		}
	}
}

func TestUnpackCanceled(t *testing.T) {
	upper := buildUpper(t)
	store, _ := newStore(t)
	ctx := context.Background()
	l, err := Write(ctx, store, Gzip, func(w io.Writer) error { return WriteDiff(ctx, upper, w) })
	must(t, err)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Unpack(cctx, store, l.Descriptor, l.DiffID, t.TempDir()); !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
}

func BenchmarkWriteGzip(b *testing.B) { benchmarkWrite(b, Gzip) }
func BenchmarkWriteZstd(b *testing.B) { benchmarkWrite(b, Zstd) }

// benchmarkWrite streams a 64 MiB semi-compressible tar through Write into
// a real store, in 32 KiB writes as a tar writer copying files makes.
func benchmarkWrite(b *testing.B, c Compression) {
	raw := benchTar(b, 64<<20)
	store, _ := newStore(b)
	ctx := context.Background()
	b.SetBytes(int64(len(raw)))
	b.ResetTimer()
	var l Layer
	for b.Loop() {
		var err error
		l, err = Write(ctx, store, c, func(w io.Writer) error {
			for p := raw; len(p) > 0; p = p[min(len(p), 32<<10):] {
				if _, err := w.Write(p[:min(len(p), 32<<10)]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(l.Descriptor.Size)/float64(l.Size), "ratio")
}

// BenchmarkApply unpacks a tar of 10,000 small files in nested dirs, as a
// base image layer has; it reports ns per file.
func BenchmarkApply(b *testing.B) {
	var hdrs []*tar.Header
	for i := range 10_000 {
		d := fmt.Sprintf("usr/share/d%d/s%d/", i/250, i/25%10)
		if i%25 == 0 {
			hdrs = append(hdrs, dirHdr(d))
		}
		hdrs = append(hdrs, reg(fmt.Sprintf("%sfile%d", d, i)))
	}
	raw := buildTar(b, hdrs...)
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		b.StartTimer()
		if _, err := Apply(ctx, dir, bytes.NewReader(raw)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10_000, "ns/file")
}
