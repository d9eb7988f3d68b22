package content

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
)

// Store is a blob store rooted at a state directory. It is safe for use by
// many goroutines and many processes at once.
type Store struct {
	blobs string // <root>/blobs/sha256
	tmp   string // <root>/tmp
}

var (
	_ Ingester = (*Store)(nil)
	_ Provider = (*Store)(nil)
	_ Infoer   = (*Store)(nil)
)

// NewStore returns the store under root, creating its directories.
func NewStore(root string) (*Store, error) {
	s := &Store{blobs: filepath.Join(root, "blobs", "sha256"), tmp: filepath.Join(root, "tmp")}
	for _, d := range []string{s.blobs, s.tmp} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create blob store: %w", err)
		}
	}
	return s, nil
}

// Path is where the blob dgst lives (whether or not it exists).
func (s *Store) Path(dgst digest.Digest) string {
	return filepath.Join(s.blobs, dgst.Encoded())
}

// Info returns the size of the blob or ErrNotFound.
func (s *Store) Info(ctx context.Context, dgst digest.Digest) (int64, error) {
	if err := dgst.Validate(); err != nil {
		return 0, fmt.Errorf("blob %q: %w", dgst, err)
	}
	fi, err := os.Stat(s.Path(dgst))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("blob %s: %w", dgst, ErrNotFound)
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// Open returns a verifying reader for dgst.
func (s *Store) Open(ctx context.Context, dgst digest.Digest) (io.ReadCloser, error) {
	if err := dgst.Validate(); err != nil {
		return nil, fmt.Errorf("blob %q: %w", dgst, err)
	}
	f, err := os.Open(s.Path(dgst))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w", dgst, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return &verifyReader{f: f, h: dgst.Algorithm().Hash(), want: dgst}, nil
}

// ReadBlob reads a whole (small) blob such as a manifest or config.
func (s *Store) ReadBlob(ctx context.Context, dgst digest.Digest) ([]byte, error) {
	rc, err := s.Open(ctx, dgst)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// WriteBlob stores b and returns its digest.
func (s *Store) WriteBlob(ctx context.Context, b []byte) (digest.Digest, error) {
	dgst := digest.FromBytes(b)
	if _, err := s.Info(ctx, dgst); err == nil {
		return dgst, nil
	}
	w, err := s.Writer(ctx)
	if err != nil {
		return "", err
	}
	defer w.Close()
	if _, err := io.Copy(w, bytes.NewReader(b)); err != nil {
		return "", err
	}
	return dgst, w.Commit(ctx, int64(len(b)), dgst)
}

// Delete removes a blob; a missing blob is not an error.
func (s *Store) Delete(ctx context.Context, dgst digest.Digest) error {
	err := os.Remove(s.Path(dgst))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// Writer opens a writer on a new temporary file.
func (s *Store) Writer(ctx context.Context) (Writer, error) {
	// The PID in the name lets the next process sweep a writer whose
	// process was killed.
	f, err := os.CreateTemp(s.tmp, fmt.Sprintf("ingest-pid%d-", os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("open blob writer: %w", err)
	}
	return &writer{s: s, f: f, h: digest.SHA256.Digester()}, nil
}

type writer struct {
	s    *Store
	f    *os.File
	h    digest.Digester
	n    int64
	done bool
}

func (w *writer) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.h.Hash().Write(p[:n])
	w.n += int64(n)
	return n, err
}

func (w *writer) Digest() digest.Digest { return w.h.Digest() }
func (w *writer) Size() int64           { return w.n }

func (w *writer) Commit(ctx context.Context, size int64, want digest.Digest) error {
	if w.done {
		return errors.New("blob writer already committed")
	}
	got := w.h.Digest()
	if size > 0 && size != w.n {
		return fmt.Errorf("commit blob %s: size %d, expected %d", got, w.n, size)
	}
	if want != "" && want != got {
		return fmt.Errorf("commit blob: digest %s, expected %s", got, want)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("commit blob %s: %w", got, err)
	}
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("commit blob %s: %w", got, err)
	}
	w.done = true
	dst := w.s.Path(got)
	if _, err := os.Stat(dst); err == nil {
		return os.Remove(w.f.Name())
	}
	if err := os.Chmod(w.f.Name(), 0o444); err != nil {
		return err
	}
	if err := os.Rename(w.f.Name(), dst); err != nil {
		os.Remove(w.f.Name())
		return fmt.Errorf("commit blob %s: %w", got, err)
	}
	return syncDir(w.s.blobs)
}

// Close discards the data unless Commit succeeded.
func (w *writer) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	w.f.Close()
	return os.Remove(w.f.Name())
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

type verifyReader struct {
	f    *os.File
	h    hash.Hash
	want digest.Digest
}

func (r *verifyReader) Read(p []byte) (int, error) {
	n, err := r.f.Read(p)
	r.h.Write(p[:n])
	if err == io.EOF {
		if got := digest.NewDigest(r.want.Algorithm(), r.h); got != r.want {
			return n, fmt.Errorf("blob %s is corrupt: content hashes to %s", r.want, got)
		}
	}
	return n, err
}

func (r *verifyReader) Close() error { return r.f.Close() }
