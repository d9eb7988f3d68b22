package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
)

// copyBufSize is the buffer between a blob response and the store.
const copyBufSize = 1 << 20

// Pull resolves ref (any Docker reference: name, name:tag, name@digest) on
// its registry, picks the platform from an index, and stores the image's
// config and layer blobs in blobs, then its manifest. Blobs are fetched in
// parallel (Options.Parallel), blobs already present are skipped, and each
// is verified against its digest and size while it streams: a mismatch or a
// dropped connection stores nothing for that blob, and the error names the
// blob and the URL. The manifest is stored only after every blob is, byte
// for byte as the registry served it (Docker schema2 or OCI), so its digest
// is preserved; Pull returns its descriptor. The index, if any, is not
// stored.
func (c *Client) Pull(ctx context.Context, ref string, blobs Blobs) (ocispec.Descriptor, error) {
	m, err := c.resolve(ctx, ref)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("pull %s: %w", ref, err)
	}
	if err := c.pullBlobs(ctx, m, blobs); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("pull %s: %w", ref, err)
	}
	if !have(ctx, blobs, m.desc) {
		if err := storeBytes(ctx, blobs, m.raw, m.desc.Digest); err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("pull %s: store manifest %s: %w", ref, m.desc.Digest, err)
		}
	}
	return m.desc, nil
}

// pullBlobs fetches m's config and layers, at most Options.Parallel at once.
func (c *Client) pullBlobs(ctx context.Context, m *manifest, blobs Blobs) error {
	var todo []ocispec.Descriptor
	seen := map[digest.Digest]bool{}
	for _, d := range append([]ocispec.Descriptor{m.m.Config}, m.m.Layers...) {
		if err := d.Digest.Validate(); err != nil {
			return fmt.Errorf("manifest %s: blob %q: %w", m.desc.Digest, d.Digest, err)
		}
		if !seen[d.Digest] {
			seen[d.Digest] = true
			todo = append(todo, d)
		}
	}
	return fanOut(ctx, c.opt.Parallel, todo, func(ctx context.Context, d ocispec.Descriptor) error {
		if err := c.pullBlob(ctx, m, blobs, d); err != nil {
			return err
		}
		c.sources.Store(d.Digest, m.repo)
		return nil
	})
}

// pullBlob stores d unless blobs has it. Concurrent pulls of one digest
// through c share a download; a waiter whose store still lacks the blob
// afterwards (another store, or the downloader was canceled) downloads it
// itself.
func (c *Client) pullBlob(ctx context.Context, m *manifest, blobs Blobs, d ocispec.Descriptor) error {
	if have(ctx, blobs, d) {
		c.event("exists %s", d.Digest)
		return nil
	}
	_, err, _ := c.flight.Do(d.Digest.String(), func() (any, error) {
		return nil, c.download(ctx, m, blobs, d)
	})
	switch {
	case err == nil && have(ctx, blobs, d):
		return nil
	case err != nil && !(errors.Is(err, context.Canceled) && ctx.Err() == nil):
		return err
	}
	return c.download(ctx, m, blobs, d)
}

// download fetches d into blobs, retrying once if the connection drops.
func (c *Client) download(ctx context.Context, m *manifest, blobs Blobs, d ocispec.Descriptor) error {
	c.event("pulling %s %s", d.Digest, humanSize(d.Size))
	var err error
	for attempt := 1; attempt <= 2; attempt++ {
		if err = c.downloadOnce(ctx, m, blobs, d); err == nil {
			c.event("pulled %s", d.Digest)
			return nil
		}
		if ctx.Err() != nil || !transient(err) {
			break
		}
	}
	if u := c.url(m.repo, "blobs", d.Digest.String()); !strings.Contains(err.Error(), u) {
		err = fmt.Errorf("GET %s: %w", u, err)
	}
	return fmt.Errorf("blob %s: %w", d.Digest, classify(err))
}

func (c *Client) downloadOnce(ctx context.Context, m *manifest, blobs Blobs, d ocispec.Descriptor) error {
	l, err := m.p.Layer(ctx, m.repo.Digest(d.Digest.String()))
	if err != nil {
		return err
	}
	rc, err := l.Compressed() // verifies the digest at EOF
	if err != nil {
		return err
	}
	defer rc.Close()
	w, err := blobs.Writer(ctx)
	if err != nil {
		return err
	}
	defer w.Close() // discards the data unless committed
	var r io.Reader = rc
	if d.Size > 0 {
		r = io.LimitReader(rc, d.Size+1) // a registry cannot fill the disk
	}
	if _, err := io.CopyBuffer(w, r, make([]byte, copyBufSize)); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) && d.Size > 0 {
			return fmt.Errorf("connection closed after %d of %d bytes: %w", w.Size(), d.Size, err)
		}
		return err
	}
	if d.Size > 0 && w.Size() != d.Size {
		return fmt.Errorf("blob is %d bytes, expected %d", w.Size(), d.Size)
	}
	return w.Commit(ctx, d.Size, d.Digest)
}

// transient reports whether err is a dropped connection worth one retry.
func transient(err error) bool {
	var ne net.Error
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || (errors.As(err, &ne) && ne.Timeout())
}

// have reports whether blobs holds d (with d's size, when known).
func have(ctx context.Context, blobs Blobs, d ocispec.Descriptor) bool {
	n, err := blobs.Info(ctx, d.Digest)
	return err == nil && (d.Size <= 0 || n == d.Size)
}

// storeBytes commits b as the blob want.
func storeBytes(ctx context.Context, blobs Blobs, b []byte, want digest.Digest) error {
	w, err := blobs.Writer(ctx)
	if err != nil {
		return err
	}
	defer w.Close()
	if _, err := w.Write(b); err != nil {
		return err
	}
	return w.Commit(ctx, int64(len(b)), want)
}

// fanOut calls f for each item, at most n at once, and returns the first
// error. That error cancels the others' context with plain context.Canceled:
// errgroup.WithContext would cancel it with the error as cause, which
// net/http then returns from in-flight requests, and ggcr's retrying
// transport would retry those (ignoring the context) if the cause looks like
// a network flake.
func fanOut[T any](ctx context.Context, n int, items []T, f func(context.Context, T) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var g errgroup.Group
	g.SetLimit(n)
	for _, it := range items {
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			err := f(ctx, it)
			if err != nil {
				cancel()
			}
			return err
		})
	}
	return g.Wait()
}
