package layer

import (
	"bufio"
	"context"
	"fmt"
	"hash"
	"io"
	"runtime"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/xbuild/xbuild/content"
)

// Compression is how a layer blob is compressed.
type Compression string

// The supported compressions. The empty Compression means Gzip.
const (
	Gzip         Compression = "gzip"
	Zstd         Compression = "zstd"
	Uncompressed Compression = "uncompressed"
)

// EmptyDiffID is the diffID of an empty layer tar as archive/tar writes it
// (1024 zero bytes).
const EmptyDiffID digest.Digest = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"

var (
	// GzipLevel is the gzip level of layers Write compresses:
	// pgzip.DefaultCompression (level 6 in klauspost/compress/flate), close
	// to what docker and BuildKit produce; pgzip.BestSpeed trades ~10% size
	// for speed.
	GzipLevel = pgzip.DefaultCompression
	// ZstdLevel is the zstd level of layers Write compresses.
	ZstdLevel = zstd.SpeedDefault
)

const (
	bufSize       = 1 << 20 // bufio between tar writer and compressor
	gzipBlockSize = 1 << 20 // pgzip block: output depends on it, not on CPUs
)

// MediaType is the OCI layer media type of blobs compressed with c.
func (c Compression) MediaType() (string, error) {
	switch c {
	case Gzip, "":
		return ocispec.MediaTypeImageLayerGzip, nil
	case Zstd:
		return ocispec.MediaTypeImageLayerZstd, nil
	case Uncompressed:
		return ocispec.MediaTypeImageLayer, nil
	}
	return "", fmt.Errorf("unknown layer compression %q", string(c))
}

// Layer describes a layer blob written into the content store.
type Layer struct {
	DiffID     digest.Digest      // sha256 of the uncompressed tar
	Size       int64              // uncompressed tar size
	Descriptor ocispec.Descriptor // the stored blob: media type, digest, size
}

// Write calls fn with a writer; the bytes fn writes are the uncompressed
// tar. In one streaming pass it hashes them (diffID), compresses them with c
// (gzip via pgzip on all CPUs, zstd with concurrent blocks, or none) and
// streams the result into a content Writer from ing, which hashes the blob;
// then it commits the blob. Memory use is bounded (a 1 MiB buffer plus the
// compressors' per-CPU blocks). Compressed output depends only on the input,
// GzipLevel and ZstdLevel, not on the number of CPUs.
//
// If fn fails, nothing is committed and fn's error is returned. A blob that
// already exists in the store is success.
func Write(ctx context.Context, ing content.Ingester, c Compression, fn func(w io.Writer) error) (Layer, error) {
	mt, err := c.MediaType()
	if err != nil {
		return Layer{}, err
	}
	cw, err := ing.Writer(ctx)
	if err != nil {
		return Layer{}, fmt.Errorf("write layer: %w", err)
	}
	defer cw.Close() // discards the data unless committed
	comp, err := newCompressor(c, cw, runtime.GOMAXPROCS(0))
	if err != nil {
		return Layer{}, err
	}
	tee := &hashWriter{h: digest.SHA256.Hash(), w: comp}
	bw := bufio.NewWriterSize(tee, bufSize)
	if err := fn(bw); err != nil {
		comp.Close() // release the compressor's goroutines
		return Layer{}, err
	}
	if err := bw.Flush(); err != nil {
		comp.Close()
		return Layer{}, fmt.Errorf("write layer: %w", err)
	}
	if err := comp.Close(); err != nil {
		return Layer{}, fmt.Errorf("compress layer: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return Layer{}, fmt.Errorf("write layer: %w", context.Cause(ctx))
	}
	desc := ocispec.Descriptor{MediaType: mt, Digest: cw.Digest(), Size: cw.Size()}
	if err := cw.Commit(ctx, desc.Size, desc.Digest); err != nil {
		return Layer{}, fmt.Errorf("write layer: %w", err)
	}
	return Layer{DiffID: digest.NewDigest(digest.SHA256, tee.h), Size: tee.n, Descriptor: desc}, nil
}

// newCompressor returns a writer compressing into w with procs-way
// parallelism. Closing it flushes it but does not close w.
func newCompressor(c Compression, w io.Writer, procs int) (io.WriteCloser, error) {
	switch c {
	case Gzip, "":
		zw, err := pgzip.NewWriterLevel(w, GzipLevel)
		if err != nil {
			return nil, err
		}
		if err := zw.SetConcurrency(gzipBlockSize, max(procs, 1)); err != nil {
			return nil, err
		}
		zw.ModTime = time.Unix(0, 0) // header MTIME 0, as gzip -n writes
		return zw, nil
	case Zstd:
		// Concurrent blocks only kick in with 2+ encoders and change the
		// output, so always ask for 2+ to keep blobs the same on every host.
		return zstd.NewWriter(w,
			zstd.WithEncoderLevel(ZstdLevel),
			zstd.WithEncoderConcurrency(max(procs, 2)),
			zstd.WithConcurrentBlocks(true))
	case Uncompressed:
		return nopWriteCloser{w}, nil
	}
	return nil, fmt.Errorf("unknown layer compression %q", string(c))
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// hashWriter hashes and counts what it passes on to w.
type hashWriter struct {
	h hash.Hash
	n int64
	w io.Writer
}

func (t *hashWriter) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	t.h.Write(p[:n])
	t.n += int64(n)
	return n, err
}
