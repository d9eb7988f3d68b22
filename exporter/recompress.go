package exporter

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"strconv"

	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/xbuild/xbuild/content"
	"github.com/xbuild/xbuild/image"
	"github.com/xbuild/xbuild/layer"
)

// Docker's media types, which loaded or pulled images may carry.
const (
	mediaTypeDockerManifest  = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeDockerList      = "application/vnd.docker.distribution.manifest.list.v2+json"
	mediaTypeDockerConfig    = "application/vnd.docker.container.image.v1+json"
	mediaTypeDockerLayer     = "application/vnd.docker.image.rootfs.diff.tar"
	mediaTypeDockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	mediaTypeDockerLayerZstd = "application/vnd.docker.image.rootfs.diff.tar.zstd"
	mediaTypeDockerForeign   = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
)

// RecompressOption tunes Recompress.
type RecompressOption func(*recompressOptions) error

type recompressOptions struct {
	level *int
}

// WithLevel sets the compression level of recompressed layers (gzip 0-9,
// zstd 0-22 mapped onto klauspost/compress's levels). Without it layers
// are compressed at layer.GzipLevel / layer.ZstdLevel, exactly as builds
// write them.
func WithLevel(n int) RecompressOption {
	return func(o *recompressOptions) error {
		o.level = &n
		return nil
	}
}

// compressionOf returns the compression a layer media type declares, or
// false for media types Recompress leaves alone (foreign or unknown layers).
func compressionOf(mediaType string) (layer.Compression, bool) {
	switch mediaType {
	case ocispec.MediaTypeImageLayerGzip, mediaTypeDockerLayerGzip:
		return layer.Gzip, true
	case ocispec.MediaTypeImageLayerZstd, mediaTypeDockerLayerZstd:
		return layer.Zstd, true
	case ocispec.MediaTypeImageLayer, mediaTypeDockerLayer:
		return layer.Uncompressed, true
	}
	return "", false
}

// Recompress returns img with its layers in compression c (no-op for
// layers already in c unless force), writing new blobs into the store. The
// config (diffIDs) is unchanged, so the image ID stays the same but the
// manifest digest changes. Annotations are kept, and the uncompressed size
// annotation is added where it was missing. A Docker-typed manifest whose
// layers change becomes an OCI manifest. If nothing changes, img itself is
// returned. Each layer is verified against its blob digest and diffID while
// it is recompressed; a layer that fails stores nothing.
func Recompress(ctx context.Context, src Source, img *image.Image, c layer.Compression, force bool, opts ...RecompressOption) (*image.Image, error) {
	var o recompressOptions
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if c == "" {
		return img, nil
	}
	if _, err := c.MediaType(); err != nil {
		return nil, err
	}
	if o.level != nil {
		if err := checkLevel(c, *o.level); err != nil {
			return nil, err
		}
	}
	if len(img.Config.RootFS.DiffIDs) != len(img.Manifest.Layers) {
		return nil, fmt.Errorf("recompress image %s: %d layers but %d diff IDs", img.Descriptor.Digest, len(img.Manifest.Layers), len(img.Config.RootFS.DiffIDs))
	}
	layers := make([]ocispec.Descriptor, len(img.Manifest.Layers))
	copy(layers, img.Manifest.Layers)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(2) // each compressor already uses every CPU
	changed := false
	for i, d := range img.Manifest.Layers {
		have, known := compressionOf(d.MediaType)
		if !known || have == c && !force {
			continue
		}
		changed = true
		g.Go(func() error {
			nd, err := recompressLayer(gctx, src.Blobs, d, img.Config.RootFS.DiffIDs[i], c, o.level)
			layers[i] = nd
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if !changed {
		return img, nil
	}
	return writeManifest(ctx, src.Blobs, img, layers)
}

// recompressLayer reads the blob d, checks it against its digest and
// diffID and stores it compressed with c.
func recompressLayer(ctx context.Context, cs *content.Store, d ocispec.Descriptor, diffID digest.Digest, c layer.Compression, level *int) (ocispec.Descriptor, error) {
	rc, err := cs.Open(ctx, d.Digest)
	if err != nil {
		return d, fmt.Errorf("recompress layer %s: %w", d.Digest, err)
	}
	defer rc.Close()
	copyOut := func(w io.Writer) error {
		dr, err := layer.Decompress(rc)
		if err != nil {
			return err
		}
		defer dr.Close()
		h := diffID.Algorithm().Digester()
		n, err := io.Copy(io.MultiWriter(w, h.Hash()), dr)
		if err != nil {
			return err
		}
		if h.Digest() != diffID {
			return fmt.Errorf("uncompressed content hashes to %s, expected diff ID %s", h.Digest(), diffID)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil { // verifies the blob digest
			return err
		}
		if want := image.LayerSize(d); want != d.Size && want != n {
			return fmt.Errorf("uncompressed size %d, annotation says %d", n, want)
		}
		return nil
	}
	var l layer.Layer
	if level == nil {
		l, err = layer.Write(ctx, cs, c, copyOut)
	} else {
		l, err = writeLevel(ctx, cs, c, *level, copyOut)
	}
	if err != nil {
		return d, fmt.Errorf("recompress layer %s: %w", d.Digest, err)
	}
	nd := l.Descriptor
	nd.Annotations = maps.Clone(d.Annotations)
	if nd.Annotations == nil {
		nd.Annotations = map[string]string{}
	}
	nd.Annotations[image.AnnotationUncompressedSize] = strconv.FormatInt(l.Size, 10)
	return nd, nil
}

// writeManifest stores a copy of img's manifest with layers and returns the
// new image. Docker media types become OCI ones.
func writeManifest(ctx context.Context, cs *content.Store, img *image.Image, layers []ocispec.Descriptor) (*image.Image, error) {
	m := img.Manifest
	m.Layers = layers
	if m.MediaType == mediaTypeDockerManifest || m.MediaType == "" {
		m.MediaType = ocispec.MediaTypeImageManifest
		if m.Config.MediaType == mediaTypeDockerConfig {
			m.Config.MediaType = ocispec.MediaTypeImageConfig
		}
		for i := range m.Layers {
			m.Layers[i].MediaType = ociLayerType(m.Layers[i].MediaType)
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	dgst, err := cs.WriteBlob(ctx, b)
	if err != nil {
		return nil, fmt.Errorf("store manifest: %w", err)
	}
	out := *img
	out.Manifest = m
	out.Descriptor = ocispec.Descriptor{MediaType: m.MediaType, Digest: dgst, Size: int64(len(b))}
	return &out, nil
}

func ociLayerType(mt string) string {
	switch mt {
	case mediaTypeDockerLayer:
		return ocispec.MediaTypeImageLayer
	case mediaTypeDockerLayerGzip:
		return ocispec.MediaTypeImageLayerGzip
	case mediaTypeDockerLayerZstd:
		return ocispec.MediaTypeImageLayerZstd
	case mediaTypeDockerForeign:
		return ocispec.MediaTypeImageLayerNonDistributableGzip //nolint:staticcheck // kept for old images
	}
	return mt
}

// writeLevel is layer.Write with an explicit compression level.
func writeLevel(ctx context.Context, cs *content.Store, c layer.Compression, level int, fn func(io.Writer) error) (layer.Layer, error) {
	mt, err := c.MediaType()
	if err != nil {
		return layer.Layer{}, err
	}
	cw, err := cs.Writer(ctx)
	if err != nil {
		return layer.Layer{}, err
	}
	defer cw.Close()
	comp, err := compressor(c, level, cw)
	if err != nil {
		return layer.Layer{}, err
	}
	h := digest.SHA256.Digester()
	cnt := &countWriter{w: io.MultiWriter(comp, h.Hash())}
	if err := fn(cnt); err != nil {
		comp.Close()
		return layer.Layer{}, err
	}
	if err := comp.Close(); err != nil {
		return layer.Layer{}, fmt.Errorf("compress layer: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return layer.Layer{}, context.Cause(ctx)
	}
	desc := ocispec.Descriptor{MediaType: mt, Digest: cw.Digest(), Size: cw.Size()}
	if err := cw.Commit(ctx, desc.Size, desc.Digest); err != nil {
		return layer.Layer{}, err
	}
	return layer.Layer{DiffID: h.Digest(), Size: cnt.n, Descriptor: desc}, nil
}

func compressor(c layer.Compression, level int, w io.Writer) (io.WriteCloser, error) {
	switch c {
	case layer.Gzip:
		zw, err := pgzip.NewWriterLevel(w, level)
		if err != nil {
			return nil, err
		}
		// Fixed block size and concurrency: the output depends on neither
		// the host nor GOMAXPROCS.
		if err := zw.SetConcurrency(1<<20, 4); err != nil {
			return nil, err
		}
		return zw, nil
	case layer.Zstd:
		return zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(level)),
			zstd.WithEncoderConcurrency(2), zstd.WithConcurrentBlocks(true))
	}
	return nopCloser{w}, nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
