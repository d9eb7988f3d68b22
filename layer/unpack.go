package layer

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/xbuild/xbuild/content"
)

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// Decompress returns a reader of the uncompressed stream, detecting gzip,
// zstd or plain tar by magic bytes. Closing it releases the decompressor but
// does not close r. Gzip and zstd checksums are verified as the stream is
// read to its end.
func Decompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(len(zstdMagic))
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("detect layer compression: %w", err)
	}
	switch {
	case bytes.HasPrefix(magic, gzipMagic):
		zr, err := pgzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("open gzip layer: %w", err)
		}
		return zr, nil
	case bytes.HasPrefix(magic, zstdMagic):
		zr, err := zstd.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("open zstd layer: %w", err)
		}
		return zr.IOReadCloser(), nil
	}
	return io.NopCloser(br), nil
}

// Unpack reads the blob desc from p, decompresses it, Applies it into dir
// and verifies that the uncompressed bytes hash to diffID and the blob to
// desc.Digest (and desc.Size when set). It returns the uncompressed size.
// On any error, including a digest mismatch found at the end, dir is left
// partly written and the caller discards it.
func Unpack(ctx context.Context, p content.Provider, desc ocispec.Descriptor, diffID digest.Digest, dir string) (int64, error) {
	if err := diffID.Validate(); err != nil {
		return 0, fmt.Errorf("unpack layer %s: diff ID: %w", desc.Digest, err)
	}
	rc, err := p.Open(ctx, desc.Digest)
	if err != nil {
		return 0, fmt.Errorf("unpack layer %s: %w", desc.Digest, err)
	}
	defer rc.Close()
	blob := &countingReader{r: rc}
	dr, err := Decompress(blob)
	if err != nil {
		return 0, fmt.Errorf("unpack layer %s: %w", desc.Digest, err)
	}
	defer dr.Close()
	d := diffID.Algorithm().Digester()
	n, err := Apply(ctx, dir, io.TeeReader(dr, d.Hash()))
	if err != nil {
		return n, fmt.Errorf("unpack layer %s: %w", desc.Digest, err)
	}
	if got := d.Digest(); got != diffID {
		return n, fmt.Errorf("unpack layer %s: uncompressed content hashes to %s, expected diff ID %s", desc.Digest, got, diffID)
	}
	// Read the blob to its end: the provider verifies the digest at EOF,
	// and bytes after the compressed stream are an error.
	if rest, err := io.Copy(io.Discard, blob); err != nil {
		return n, fmt.Errorf("unpack layer %s: %w", desc.Digest, err)
	} else if rest > 0 {
		return n, fmt.Errorf("unpack layer %s: %d bytes after the compressed stream", desc.Digest, rest)
	}
	if desc.Size > 0 && blob.n != desc.Size {
		return n, fmt.Errorf("unpack layer %s: blob is %d bytes, expected %d", desc.Digest, blob.n, desc.Size)
	}
	return n, nil
}
