package exporter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/xbuild/xbuild/content"
)

// loader collects the entries of one archive.
type loader struct {
	src     Source
	meta    map[string][]byte         // index.json, manifest.json, …
	pending map[string]content.Writer // other files, uncommitted
	blobs   map[string]digest.Digest  // committed files by archive path
}

func newLoader(src Source) *loader {
	return &loader{src: src, meta: map[string][]byte{}, pending: map[string]content.Writer{}, blobs: map[string]digest.Digest{}}
}

var metaFiles = map[string]bool{"index.json": true, "manifest.json": true, "oci-layout": true, "repositories": true}

// entry takes one archive entry; r is read to the end of its data.
func (l *loader) entry(ctx context.Context, name string, kind fileKind, size int64, r io.Reader) error {
	clean, err := cleanEntryName(name)
	if err != nil {
		return fmt.Errorf("entry %q: %w", name, err)
	}
	switch {
	case kind == kindDir:
		return nil
	case kind == kindOther:
		return fmt.Errorf("entry %q: only regular files and directories are allowed", name)
	case clean == "":
		return fmt.Errorf("entry %q: not a file name", name)
	}
	switch {
	case clean == "blobs" || strings.HasPrefix(clean, "blobs/"):
		d, err := parseBlobPath(clean)
		if err != nil {
			return fmt.Errorf("entry %q: %w", name, err)
		}
		if err := storeBlob(ctx, l.src.Blobs, d, size, r); err != nil {
			return fmt.Errorf("entry %q: %w", name, err)
		}
		l.blobs[clean] = d
	case metaFiles[clean]:
		if size > maxMetaSize {
			return fmt.Errorf("entry %q: %d bytes is too large (limit %d)", name, size, maxMetaSize)
		}
		b, err := io.ReadAll(io.LimitReader(r, maxMetaSize+1))
		if err != nil {
			return fmt.Errorf("entry %q: %w", name, err)
		}
		l.meta[clean] = b
	case path.Base(clean) == "json" || path.Base(clean) == "VERSION":
		// Legacy per-layer metadata: manifest.json never refers to it.
		if _, err := io.Copy(io.Discard, r); err != nil {
			return fmt.Errorf("entry %q: %w", name, err)
		}
	default:
		return l.spool(ctx, name, clean, r)
	}
	return nil
}

// spool keeps a file that manifest.json may refer to in an uncommitted
// blob writer.
func (l *loader) spool(ctx context.Context, name, clean string, r io.Reader) error {
	if len(l.pending) >= maxPending {
		return fmt.Errorf("entry %q: more than %d entries that are not blobs", name, maxPending)
	}
	if old, ok := l.pending[clean]; ok {
		old.Close()
		delete(l.pending, clean)
	}
	w, err := l.src.Blobs.Writer(ctx)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Close()
		return fmt.Errorf("entry %q: %w", name, err)
	}
	l.pending[clean] = w
	return nil
}

// discard drops every uncommitted file.
func (l *loader) discard() {
	for k, w := range l.pending {
		w.Close()
		delete(l.pending, k)
	}
}

// cleanEntryName refuses absolute names and names with ".." components and
// returns name without "./" prefixes or a trailing "/".
func cleanEntryName(name string) (string, error) {
	if strings.HasPrefix(name, "/") {
		return "", errors.New("absolute path")
	}
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			return "", errors.New(`path contains ".."`)
		}
	}
	if strings.ContainsRune(name, 0) || strings.Contains(name, `\`) {
		return "", errors.New("invalid character in path")
	}
	clean := path.Clean(name)
	if clean == "." {
		return "", nil
	}
	return clean, nil
}

// parseBlobPath returns the digest of a path blobs/sha256/<hex>.
func parseBlobPath(p string) (digest.Digest, error) {
	parts := strings.Split(p, "/")
	if len(parts) != 3 || parts[0] != "blobs" {
		return "", errors.New("not a blob path (blobs/<algorithm>/<hex>)")
	}
	d := digest.NewDigestFromEncoded(digest.Algorithm(parts[1]), parts[2])
	if parts[1] != digest.SHA256.String() {
		return "", fmt.Errorf("unsupported digest algorithm %q", parts[1])
	}
	if err := d.Validate(); err != nil {
		return "", fmt.Errorf("not a blob path: %w", err)
	}
	return d, nil
}

// storeBlob streams r into the store, committing it only if it hashes to d
// and has size bytes. A blob the store has is verified and not written.
func storeBlob(ctx context.Context, cs *content.Store, d digest.Digest, size int64, r io.Reader) error {
	if have, err := cs.Info(ctx, d); err == nil && have == size {
		v := d.Verifier()
		n, err := io.Copy(v, r)
		if err != nil {
			return err
		}
		if n != size || !v.Verified() {
			return fmt.Errorf("content does not match digest %s", d)
		}
		return nil
	}
	w, err := cs.Writer(ctx)
	if err != nil {
		return err
	}
	defer w.Close()
	if _, err := io.Copy(w, r); err != nil {
		return err
	}
	if err := w.Commit(ctx, size, d); err != nil {
		return fmt.Errorf("content does not match its name: %w", err)
	}
	return nil
}
