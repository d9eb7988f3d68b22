package registry

import (
	"archive/tar"
	"context"
	"flag"
	"io"
	"log"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"

	"github.com/xbuild/xbuild/content"
	"github.com/xbuild/xbuild/layer"
)

var benchSize = flag.Int("size", 256, "MiB in the layer of BenchmarkPushPull (1024 for the 1 GiB case)")

// BenchmarkPushPull pushes an image with one incompressible layer of -size
// MiB to a fresh in-process registry on 127.0.0.1 and pulls it back into a
// fresh store (fsync'd, verified). MB/s counts the layer once per push+pull;
// push-MB/s and pull-MB/s time each direction alone.
//
//	go test -run '^$' -bench PushPull ./registry -args -size 1024
func BenchmarkPushPull(b *testing.B) {
	ctx := context.Background()
	src := newStore(b)
	size := int64(*benchSize) << 20
	l, err := layer.Write(ctx, src, layer.Uncompressed, func(w io.Writer) error {
		tw := tar.NewWriter(w)
		if err := tw.WriteHeader(&tar.Header{Name: "blob", Mode: 0o644, Size: size, ModTime: time.Unix(1700000000, 0)}); err != nil {
			return err
		}
		if _, err := io.CopyN(tw, rand.NewChaCha8([32]byte{1}), size); err != nil {
			return err
		}
		return tw.Close()
	})
	if err != nil {
		b.Fatal(err)
	}
	img := writeImage(b, src, "amd64", l)
	b.SetBytes(l.Descriptor.Size)
	var push, pull time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
		ref := strings.TrimPrefix(srv.URL, "http://") + "/bench:1"
		dir, err := os.MkdirTemp("", "xbuild-bench-")
		if err != nil {
			b.Fatal(err)
		}
		dst, err := content.NewStore(dir)
		if err != nil {
			b.Fatal(err)
		}
		cl := newClient(nil)
		b.StartTimer()

		t0 := time.Now()
		if _, err := cl.Push(ctx, ref, src, img.Descriptor); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := cl.Pull(ctx, ref, dst); err != nil {
			b.Fatal(err)
		}
		push, pull = push+t1.Sub(t0), pull+time.Since(t1)

		b.StopTimer()
		srv.Close()
		os.RemoveAll(dir)
		b.StartTimer()
	}
	mb := float64(l.Descriptor.Size) * float64(b.N) / 1e6
	b.ReportMetric(mb/push.Seconds(), "push-MB/s")
	b.ReportMetric(mb/pull.Seconds(), "pull-MB/s")
}
