package content

import (
	"context"
	"errors"
	"io"

	"github.com/opencontainers/go-digest"
)

// ErrNotFound is returned when a blob is not in the store.
var ErrNotFound = errors.New("blob not found")

// Writer streams one blob into the store. Nothing is visible under
// blobs/ until Commit succeeds; Close without Commit discards the data.
type Writer interface {
	io.WriteCloser
	// Digest is the digest of the bytes written so far.
	Digest() digest.Digest
	// Size is the number of bytes written so far.
	Size() int64
	// Commit verifies size (if > 0) and want (if not empty), syncs the data
	// and moves it into place. A blob that already exists is success.
	Commit(ctx context.Context, size int64, want digest.Digest) error
}

// Ingester opens Writers.
type Ingester interface {
	Writer(ctx context.Context) (Writer, error)
}

// Provider opens blobs for reading. The reader fails at EOF if the bytes do
// not match dgst.
type Provider interface {
	Open(ctx context.Context, dgst digest.Digest) (io.ReadCloser, error)
}

// Info reports the size of a stored blob, or ErrNotFound.
type Infoer interface {
	Info(ctx context.Context, dgst digest.Digest) (int64, error)
}
