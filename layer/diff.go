package layer

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// DiffOptions tune WriteDiffOptions. The zero value is what WriteDiff uses.
type DiffOptions struct {
	// Epoch, when not zero, clamps every mtime later than it down to it
	// (SOURCE_DATE_EPOCH). Earlier mtimes are kept.
	Epoch time.Time

	// Lowers are the overlay's lower dirs, top first (the order of the
	// lowerdir mount option). When set, a directory of the upper dir that
	// overlay merely copied up is left out: one that is not opaque, exists as
	// a directory in the merged view of Lowers with the same mode, uid, gid,
	// mtime (to the nanosecond) and xattrs (trusted.overlay.* aside), and has
	// nothing below it that is written. A directory written only because of
	// a descendant comes before it, as always. Lowers are only read; a
	// missing or unreadable one fails the diff.
	Lowers []string
}

// WriteDiff writes the overlay upper dir `upper` as an uncompressed OCI
// layer tar to w.
//
// Walk order is lexical (deterministic). Overlay whiteouts (char dev 0/0)
// become `.wh.NAME` entries (empty regular file, mode 0, uid/gid 0); a dir
// with trusted.overlay.opaque=y is written as the dir entry followed by a
// `DIR/.wh..wh..opq` entry. Headers: numeric uid/gid only, PAX format, ModTime
// truncated to the second, no atime/ctime, names relative without leading
// "./" or "/", dirs end in "/". Hardlinks within the upper dir (same
// dev+inode, nlink>1) are written once as a file and then as TypeLink to the
// first path. Symlinks, char/block devices and fifos are kept; sockets are
// skipped. Xattrs are kept as PAX "SCHILY.xattr." records except the
// trusted.overlay.* namespace. The upper dir itself gets no entry.
//
// It fails on a real file whose name starts with ".wh." (it cannot be told
// from a whiteout) and on entries with trusted.overlay.redirect or
// trusted.overlay.metacopy, whose contents live in a lower layer (mount
// overlays with redirect_dir=off and metacopy=off). ctx is checked between
// entries. w receives a complete tar only when WriteDiff returns nil.
func WriteDiff(ctx context.Context, upper string, w io.Writer) error {
	return WriteDiffOptions(ctx, upper, w, DiffOptions{})
}

// WriteDiffOptions is WriteDiff with options.
func WriteDiffOptions(ctx context.Context, upper string, w io.Writer, opts DiffOptions) error {
	d := &differ{
		ctx:   ctx,
		upper: filepath.Clean(upper),
		tw:    tar.NewWriter(w),
		opts:  opts,
		links: map[inode]string{},
	}
	if err := d.setLowers(opts.Lowers); err != nil {
		return err
	}
	if err := filepath.WalkDir(d.upper, d.visit); err != nil {
		return err
	}
	if err := d.tw.Close(); err != nil {
		return fmt.Errorf("write layer tar: %w", err)
	}
	return nil
}

type inode struct{ dev, ino uint64 }

// differ holds the state of one WriteDiff walk.
type differ struct {
	ctx   context.Context
	upper string
	tw    *tar.Writer
	opts  DiffOptions
	links map[inode]string // first tar name of each multiply-linked inode

	lowers  []string      // cleaned opts.Lowers, top first
	pending []*tar.Header // copied-up dirs on the walk's current path, unwritten
	fresh   string        // tar name of the last dir the lowers do not show
}

func (d *differ) visit(p string, _ fs.DirEntry, err error) error {
	if err != nil {
		return fmt.Errorf("walk upper dir: %w", err)
	}
	if err := d.ctx.Err(); err != nil {
		return fmt.Errorf("write layer: %w", context.Cause(d.ctx))
	}
	if p == d.upper {
		return nil
	}
	rel, err := filepath.Rel(d.upper, p)
	if err != nil {
		return err
	}
	name := filepath.ToSlash(rel)
	d.leave(name)
	if err := d.entry(p, name); err != nil {
		return fmt.Errorf("write layer entry %s: %w", name, err)
	}
	return nil
}

// entry writes the tar entries for the file at p, named name in the tar.
func (d *differ) entry(p, name string) error {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return fmt.Errorf("lstat: %w", err)
	}
	dir, base := path.Split(name)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		if st.Rdev == 0 {
			if err := d.flush(); err != nil {
				return err
			}
			return d.writeMarker(dir+whiteoutPrefix+base, d.mtime(&st))
		}
	case unix.S_IFSOCK:
		return nil
	}
	if strings.HasPrefix(base, whiteoutPrefix) {
		return fmt.Errorf("name is reserved for whiteouts")
	}
	hdr, opaque, err := d.header(p, name, &st)
	if err != nil {
		return err
	}
	if hdr.Typeflag == tar.TypeDir && len(d.lowers) > 0 {
		same, err := d.copiedUp(name, &st, hdr, opaque)
		if err != nil {
			return err
		}
		if same {
			d.pending = append(d.pending, hdr)
			return nil
		}
	}
	if err := d.flush(); err != nil {
		return err
	}
	if err := d.tw.WriteHeader(hdr); err != nil {
		return err
	}
	if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
		if err := copyFile(d.tw, p, hdr.Size); err != nil {
			return err
		}
	}
	if opaque {
		return d.writeMarker(hdr.Name+opaqueMarker, hdr.ModTime)
	}
	return nil
}

// leave drops the pending dirs that are not ancestors of name: the walk
// has left their subtrees without writing anything below them.
func (d *differ) leave(name string) {
	for n := len(d.pending); n > 0; n-- {
		if strings.HasPrefix(name, d.pending[n-1].Name) { // Name ends in "/"
			return
		}
		d.pending = d.pending[:n-1]
	}
}

// flush writes the pending dirs, outermost first, before an entry below
// them is written.
func (d *differ) flush() error {
	for _, hdr := range d.pending {
		if err := d.tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("write parent %s: %w", hdr.Name, err)
		}
	}
	d.pending = d.pending[:0]
	return nil
}

// header builds the tar header of a non-whiteout file and reports whether
// it is an opaque directory.
func (d *differ) header(p, name string, st *unix.Stat_t) (*tar.Header, bool, error) {
	hdr := &tar.Header{
		Name:    name,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: d.mtime(st),
		Format:  tar.FormatPAX,
	}
	if err := setType(hdr, p, st); err != nil {
		return nil, false, err
	}
	opaque, err := d.setXattrs(hdr, p)
	if err != nil {
		return nil, false, err
	}
	if hdr.Typeflag != tar.TypeDir && uint64(st.Nlink) > 1 {
		key := inode{dev: uint64(st.Dev), ino: uint64(st.Ino)}
		if first, ok := d.links[key]; ok {
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
		} else {
			d.links[key] = name
		}
	}
	return hdr, opaque, nil
}

func setType(hdr *tar.Header, p string, st *unix.Stat_t) error {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
	case unix.S_IFDIR:
		hdr.Typeflag, hdr.Name = tar.TypeDir, hdr.Name+"/"
	case unix.S_IFLNK:
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor = int64(unix.Major(uint64(st.Rdev)))
		hdr.Devminor = int64(unix.Minor(uint64(st.Rdev)))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	default:
		return fmt.Errorf("unsupported file type %#o", st.Mode&unix.S_IFMT)
	}
	return nil
}

// setXattrs copies the xattrs of p into hdr's PAX records and reports
// whether p is an opaque overlay directory.
func (d *differ) setXattrs(hdr *tar.Header, p string) (bool, error) {
	xs, err := listXattrs(p)
	if err != nil {
		return false, err
	}
	opaque := false
	for _, x := range xs {
		switch {
		case x.name == opaqueXattr:
			opaque = hdr.Typeflag == tar.TypeDir && string(x.value) == "y"
		case x.name == overlayXattrNS+"redirect", x.name == overlayXattrNS+"metacopy":
			return false, fmt.Errorf("overlay %s entries are not supported", x.name)
		case isOverlayXattr(x.name):
		default:
			if hdr.PAXRecords == nil {
				hdr.PAXRecords = map[string]string{}
			}
			hdr.PAXRecords[paxXattr+x.name] = string(x.value)
		}
	}
	return opaque, nil
}

// writeMarker writes an OCI whiteout or opaque marker: an empty regular
// file with mode 0 owned by 0:0.
func (d *differ) writeMarker(name string, mtime time.Time) error {
	return d.tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		ModTime:  mtime,
		Format:   tar.FormatPAX,
	})
}

func (d *differ) mtime(st *unix.Stat_t) time.Time {
	t := time.Unix(int64(st.Mtim.Sec), 0)
	if e := d.opts.Epoch; !e.IsZero() && t.After(e) {
		t = e.Truncate(time.Second)
	}
	return t
}

// copyFile writes exactly size bytes of the file at p to w.
func copyFile(w io.Writer, p string, size int64) error {
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.CopyN(w, f, size)
	if err == io.EOF {
		return fmt.Errorf("file shrank to %d bytes while being read", n)
	}
	return err
}
