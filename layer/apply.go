package layer

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// Apply unpacks an uncompressed OCI layer tar from r into dir, a new, empty
// snapshot fs dir, converting OCI whiteouts to overlay whiteouts (`.wh.NAME`
// → a 0/0 char device NAME; `.wh..wh..opq` → trusted.overlay.opaque=y on its
// dir). Other `.wh..wh.*` names (aufs metadata) are skipped. It returns the
// number of bytes read from r: it reads r to EOF, past the tar's end marker,
// so this is the uncompressed size the diffID covers.
//
// Paths stay inside dir: a leading "/" is dropped (so "/abs/evil" lands at
// dir/abs/evil), a name or hardlink target that climbs out of dir with ".."
// is an error, and parent directories are resolved with securejoin, so a
// symlink an earlier entry made is followed as if dir were the root ("link →
// /" makes "link/evil" land at dir/evil). Missing parents are created 0755,
// owned by root. Later entries replace earlier ones (file over dir, dir over
// file); a dir entry over an existing dir keeps its contents.
//
// Owners, modes (incl. setuid/setgid/sticky, set after chown), xattrs
// (except trusted.overlay.*) and mtimes are applied; directory mtimes last.
// Hardlink entries take the metadata of the inode they link to. ctx is
// checked between entries. Errors name the entry; on error dir is left
// partly written and the caller discards it.
func Apply(ctx context.Context, dir string, r io.Reader) (int64, error) {
	return apply(ctx, &applier{}, dir, r)
}

// ExtractOptions change how Extract writes entries.
type ExtractOptions struct {
	// Owner, if set, replaces every entry's uid and gid (ADD --chown).
	Owner *[2]int
}

// Extract unpacks a plain tar archive into dir as ADD does: like Apply, but
// entries named like whiteouts are ordinary files, and owners may be
// replaced. dir may already hold files (it is usually inside a mounted
// rootfs); the same path rules keep every entry inside it.
func Extract(ctx context.Context, dir string, r io.Reader, opt ExtractOptions) (int64, error) {
	return apply(ctx, &applier{plain: true, owner: opt.Owner}, dir, r)
}

func apply(ctx context.Context, a *applier, dir string, r io.Reader) (int64, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return 0, fmt.Errorf("apply layer: %w", err)
	}
	cr := &countingReader{r: r}
	a.root = root
	tr := tar.NewReader(cr)
	for {
		if err := ctx.Err(); err != nil {
			return cr.n, fmt.Errorf("apply layer: %w", context.Cause(ctx))
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return cr.n, fmt.Errorf("read layer tar: %w", err)
		}
		if err := a.entry(hdr, tr); err != nil {
			return cr.n, fmt.Errorf("apply layer entry %q: %w", hdr.Name, err)
		}
	}
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return cr.n, fmt.Errorf("read layer tar: %w", err)
	}
	if err := a.setDirTimes(); err != nil {
		return cr.n, err
	}
	return cr.n, nil
}

// applier holds the state of one Apply.
type applier struct {
	root  string    // absolute, clean
	dirs  []dirTime // directory mtimes, set once every entry is written
	plain bool      // Extract: no whiteouts
	owner *[2]int   // Extract: forced uid, gid

	// The last parent mkdirAll resolved: consecutive entries mostly share
	// one. Any removal or new (sym or hard) link may change how paths
	// resolve and drops it.
	lastRel, lastDir string
}

type dirTime struct {
	path        string
	atime, mtim time.Time
}

func (a *applier) entry(hdr *tar.Header, r io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	name, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	if name == "" {
		if a.plain {
			return nil // ADD leaves the destination directory as it is
		}
		return a.rootEntry(hdr)
	}
	dir, base := path.Split(name)
	if !a.plain && strings.HasPrefix(base, whiteoutPrefix) {
		return a.whiteout(dir, base, hdr)
	}
	parent, err := a.mkdirAll(dir)
	if err != nil {
		return err
	}
	target := filepath.Join(parent, base)
	keep, err := a.replace(target, hdr.Typeflag == tar.TypeDir)
	if err != nil {
		return err
	}
	if !keep {
		if err := a.create(target, hdr, r); err != nil {
			return err
		}
	}
	if hdr.Typeflag == tar.TypeLink {
		return nil
	}
	return a.setMeta(target, hdr)
}

// rootEntry applies the metadata of a "./" entry to dir itself.
func (a *applier) rootEntry(hdr *tar.Header) error {
	if hdr.Typeflag != tar.TypeDir {
		return errors.New("the layer root must be a directory")
	}
	return a.setMeta(a.root, hdr)
}

// whiteout handles an OCI whiteout or opaque marker named base in dir.
func (a *applier) whiteout(dir, base string, hdr *tar.Header) error {
	if base != opaqueMarker && strings.HasPrefix(base, whiteoutMeta) {
		return nil
	}
	parent, err := a.mkdirAll(dir)
	if err != nil {
		return err
	}
	if base == opaqueMarker {
		if err := unix.Lsetxattr(parent, opaqueXattr, []byte("y"), 0); err != nil {
			return fmt.Errorf("mark directory opaque: %w", err)
		}
		return nil
	}
	orig := strings.TrimPrefix(base, whiteoutPrefix)
	if orig == "" || orig == "." || orig == ".." {
		return errors.New("invalid whiteout name")
	}
	target := filepath.Join(parent, orig)
	if _, err := a.replace(target, false); err != nil {
		return err
	}
	if err := unix.Mknod(target, unix.S_IFCHR, 0); err != nil {
		return fmt.Errorf("create whiteout: %w", err)
	}
	return setTimes(target, hdr)
}

// resolve returns the host path of the directory rel (slash-separated,
// clean, relative to the root), following symlinks as if the root were /.
func (a *applier) resolve(rel string) (string, error) {
	p, err := securejoin.SecureJoin(a.root, rel)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", rel, err)
	}
	return p, nil
}

// mkdirAll resolves the directory rel and creates what is missing of it
// with mode 0755, whatever the umask.
func (a *applier) mkdirAll(rel string) (string, error) {
	if a.lastDir != "" && rel == a.lastRel {
		return a.lastDir, nil
	}
	p, err := a.resolve(rel)
	if err != nil || p == a.root {
		return p, err
	}
	tail, err := filepath.Rel(a.root, p)
	if err != nil {
		return "", err
	}
	cur := a.root
	for _, part := range strings.Split(tail, string(filepath.Separator)) {
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := mkdir(cur, 0o755); err != nil {
				return "", err
			}
		case err != nil:
			return "", err
		case !fi.IsDir():
			return "", fmt.Errorf("parent %s is not a directory", part)
		}
	}
	a.lastRel, a.lastDir = rel, p
	return p, nil
}

// forget drops the cached parent after a change that may alter resolution.
func (a *applier) forget() { a.lastRel, a.lastDir = "", "" }

func mkdir(p string, mode uint32) error {
	if err := unix.Mkdir(p, mode); err != nil {
		return fmt.Errorf("mkdir %s: %w", filepath.Base(p), err)
	}
	if err := unix.Chmod(p, mode); err != nil {
		return fmt.Errorf("chmod %s: %w", filepath.Base(p), err)
	}
	return nil
}

// replace removes whatever is at target, except that an existing directory
// is kept (keep=true) when a directory is about to be written there.
func (a *applier) replace(target string, isDir bool) (keep bool, err error) {
	fi, err := os.Lstat(target)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if isDir && fi.IsDir() {
		return true, nil
	}
	a.forget()
	if err := os.RemoveAll(target); err != nil {
		return false, fmt.Errorf("replace existing entry: %w", err)
	}
	return false, nil
}

// cleanName turns a tar path into a clean path relative to the root, ""
// for the root itself. A leading "/" is dropped; climbing out with ".." is
// an error.
func cleanName(name string) (string, error) {
	c := path.Clean(strings.TrimLeft(name, "/"))
	switch {
	case c == ".":
		return "", nil
	case c == ".." || strings.HasPrefix(c, "../"):
		return "", fmt.Errorf("path %q escapes the layer root", name)
	}
	return c, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
