package exporter

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/opencontainers/go-digest"
)

// sink receives the files of an image layout, in order: a tar stream or a
// directory.
type sink interface {
	// dir creates the directory name ("blobs/sha256").
	dir(name string) error
	// file writes name with exactly size bytes read from r.
	file(name string, size int64, r io.Reader) error
	// hasBlob reports whether a blob file is already complete and correct,
	// so that it need not be written again.
	hasBlob(name string, d digest.Digest, size int64) bool
}

// epoch is the mtime of every entry of the archives xbuild writes, so that
// the same images give the same archive bytes.
var epoch = time.Unix(0, 0).UTC()

// tarSink writes the layout as a tar stream. Closing the tar writer is the
// caller's job.
type tarSink struct{ tw *tar.Writer }

var _ sink = tarSink{}

func (s tarSink) dir(name string) error {
	return s.tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeDir, Name: name + "/", Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX,
	})
}

func (s tarSink) file(name string, size int64, r io.Reader) error {
	hdr := &tar.Header{
		Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: size, ModTime: epoch, Format: tar.FormatPAX,
	}
	if err := s.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	n, err := io.Copy(s.tw, r)
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if n != size {
		return fmt.Errorf("write %s: %d bytes, expected %d", name, n, size)
	}
	return nil
}

func (tarSink) hasBlob(string, digest.Digest, int64) bool { return false }

// dirSink writes the layout into a directory. Every file is written to a
// temporary name, synced and renamed into place, so an interrupted export
// leaves no half-written blob or index.
type dirSink struct{ root string }

var _ sink = dirSink{}

func (s dirSink) dir(name string) error {
	return os.MkdirAll(filepath.Join(s.root, filepath.FromSlash(name)), 0o755)
}

func (s dirSink) file(name string, size int64, r io.Reader) (err error) {
	dst := filepath.Join(s.root, filepath.FromSlash(name))
	f, err := os.CreateTemp(filepath.Dir(dst), ".tmp-"+filepath.Base(dst)+"-")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	n, err := io.Copy(f, r)
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if n != size {
		return fmt.Errorf("write %s: %d bytes, expected %d", name, n, size)
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Rename(f.Name(), dst); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// hasBlob re-hashes an existing blob file: reading it is cheaper than
// writing it again, and a damaged file is replaced.
func (s dirSink) hasBlob(name string, d digest.Digest, size int64) bool {
	p := filepath.Join(s.root, filepath.FromSlash(name))
	fi, err := os.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != size {
		return false
	}
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	v := d.Verifier()
	if _, err := io.Copy(v, f); err != nil {
		return false
	}
	return v.Verified()
}

// readExisting reads a small file of an existing layout directory; a
// missing file is (nil, nil).
func readExisting(root, name string, limit int64) ([]byte, error) {
	f, err := os.Open(filepath.Join(root, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, limit)
	}
	return b, nil
}
