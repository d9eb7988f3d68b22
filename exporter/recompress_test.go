package exporter

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/xbuild/xbuild/image"
	"github.com/xbuild/xbuild/internal/testutil"
	"github.com/xbuild/xbuild/layer"
)

// checkLayers checks that every layer of img has media type mt, decompresses
// to its diffID and keeps the uncompressed size annotation of orig.
func checkLayers(t *testing.T, e *env, img, orig *image.Image, mt string) {
	t.Helper()
	ctx := context.Background()
	for i, l := range img.Manifest.Layers {
		if l.MediaType != mt {
			t.Errorf("layer %d media type %s, want %s", i, l.MediaType, mt)
		}
		rc, err := e.src.Blobs.Open(ctx, l.Digest)
		must(t, err)
		dr, err := layer.Decompress(rc)
		must(t, err)
		h := digest.SHA256.Digester()
		n, err := io.Copy(h.Hash(), dr)
		must(t, err)
		dr.Close()
		rc.Close()
		if h.Digest() != img.Config.RootFS.DiffIDs[i] {
			t.Errorf("layer %d decompresses to %s, want diff ID %s", i, h.Digest(), img.Config.RootFS.DiffIDs[i])
		}
		if image.LayerSize(l) != n || image.LayerSize(l) != image.LayerSize(orig.Manifest.Layers[i]) {
			t.Errorf("layer %d uncompressed size annotation %d, tar is %d bytes", i, image.LayerSize(l), n)
		}
	}
}

func TestRecompress(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	a, _ := twoImages(t, e)

	same, err := Recompress(ctx, e.src, a, layer.Gzip, false)
	must(t, err)
	if same != a {
		t.Error("recompressing gzip layers to gzip made a new image")
	}
	if same, _ := Recompress(ctx, e.src, a, "", true); same != a {
		t.Error("empty compression made a new image")
	}

	z, err := Recompress(ctx, e.src, a, layer.Zstd, false)
	must(t, err)
	if z.Descriptor.Digest == a.Descriptor.Digest || z.ID() != a.ID() {
		t.Errorf("zstd image: manifest %s (was %s), config %s (was %s)", z.Descriptor.Digest, a.Descriptor.Digest, z.ID(), a.ID())
	}
	checkLayers(t, e, z, a, ocispec.MediaTypeImageLayerZstd)
	stored, err := image.Load(ctx, e.src.Blobs, z.Descriptor.Digest)
	must(t, err)
	if stored.Descriptor.Digest != z.Descriptor.Digest || stored.Descriptor.Size != z.Descriptor.Size || stored.ID() != z.ID() {
		t.Errorf("stored manifest differs: %+v vs %+v", stored.Descriptor, z.Descriptor)
	}

	// Back to gzip: the same bytes as the build wrote, so the same manifest.
	g, err := Recompress(ctx, e.src, z, layer.Gzip, false)
	must(t, err)
	if g.Descriptor.Digest != a.Descriptor.Digest {
		t.Errorf("zstd → gzip gives manifest %s, the original is %s", g.Descriptor.Digest, a.Descriptor.Digest)
	}

	u, err := Recompress(ctx, e.src, a, layer.Uncompressed, false)
	must(t, err)
	checkLayers(t, e, u, a, ocispec.MediaTypeImageLayer)
	for i, l := range u.Manifest.Layers {
		if l.Digest != a.Config.RootFS.DiffIDs[i] {
			t.Errorf("uncompressed layer %d digest %s is not its diff ID", i, l.Digest)
		}
	}

	// force-compression with another level changes gzip layers.
	f, err := Recompress(ctx, e.src, a, layer.Gzip, true, WithLevel(1))
	must(t, err)
	checkLayers(t, e, f, a, ocispec.MediaTypeImageLayerGzip)
	if f.Manifest.Layers[0].Digest == a.Manifest.Layers[0].Digest {
		t.Error("forced gzip level 1 left the layer unchanged")
	}
	if _, err := Recompress(ctx, e.src, a, layer.Zstd, false, WithLevel(99)); err == nil {
		t.Error("zstd level 99 accepted")
	}
	zl, err := Output{Compression: layer.Zstd, CompressionLevel: intp(19)}.ImageFor(ctx, e.src, a)
	must(t, err)
	checkLayers(t, e, zl, a, ocispec.MediaTypeImageLayerZstd)
	e.checkTmpEmpty(t)

	// The zstd image travels through an archive and unpacks.
	var buf bytes.Buffer
	must(t, WriteOCITar(ctx, e.src, []Named{{Image: z, Names: []string{"docker.io/library/app:zstd"}}}, &buf))
	fresh := newEnv(t)
	got, err := Load(ctx, fresh.src, &buf)
	must(t, err)
	if len(got) != 1 || got[0].Image.Descriptor.Digest != z.Descriptor.Digest {
		t.Fatalf("loaded %+v", got)
	}
	testutil.RequireRoot(t) // unpacking chowns
	top, err := layer.UnpackChain(ctx, fresh.src.Blobs, fresh.src.Snapshots, got[0].Image.Manifest.Layers, got[0].Image.Config.RootFS.DiffIDs)
	must(t, err)
	if top == "" || !fresh.src.Snapshots.Exists(top) {
		t.Errorf("unpacked chain top %q", top)
	}
}

func TestRecompressRefusesCorruptLayer(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	l1 := plainUpper(t, map[string]string{"a": "a"})
	a := makeImage(t, e, layer.Gzip, "x", l1)
	// A config that lies about the diffID: recompression must notice.
	bad := *a
	bad.Config.RootFS.DiffIDs = []digest.Digest{digest.FromString("not the layer")}
	before := e.blobCount(t)
	if _, err := Recompress(ctx, e.src, &bad, layer.Zstd, false); err == nil {
		t.Fatal("recompressed a layer that does not match its diff ID")
	}
	if e.blobCount(t) != before {
		t.Error("a failed recompression stored a blob")
	}
	e.checkTmpEmpty(t)
}
