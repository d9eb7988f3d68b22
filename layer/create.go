package layer

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// create makes the file hdr describes at target, where nothing exists.
func (a *applier) create(target string, hdr *tar.Header, r io.Reader) error {
	switch hdr.Typeflag {
	case tar.TypeDir:
		return mkdir(target, 0o700)
	case tar.TypeReg, tar.TypeGNUSparse:
		return writeFile(target, r)
	case tar.TypeSymlink:
		a.forget()
		if err := unix.Symlink(hdr.Linkname, target); err != nil {
			return fmt.Errorf("symlink: %w", err)
		}
		return nil
	case tar.TypeLink:
		a.forget()
		return a.link(target, hdr.Linkname)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return mknod(target, hdr)
	default:
		return fmt.Errorf("unsupported tar entry type %q", hdr.Typeflag)
	}
}

func writeFile(target string, r io.Reader) (err error) {
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	if _, err := io.Copy(f, r); err != nil {
		return fmt.Errorf("write file: %w", err)
	}
	return nil
}

// link hardlinks target to the layer path linkname, which must already
// exist inside the root and not be a directory. A symlink as the last
// component of linkname is linked itself, not followed.
func (a *applier) link(target, linkname string) error {
	name, err := cleanName(linkname)
	if err != nil {
		return err
	}
	if name == "" {
		return errors.New("hardlink to the layer root")
	}
	dir, base := path.Split(name)
	parent, err := a.resolve(dir)
	if err != nil {
		return err
	}
	src := filepath.Join(parent, base)
	fi, err := os.Lstat(src)
	if err != nil {
		return fmt.Errorf("hardlink target %s: %w", linkname, err)
	}
	if fi.IsDir() {
		return fmt.Errorf("hardlink target %s is a directory", linkname)
	}
	if err := os.Link(src, target); err != nil {
		return fmt.Errorf("hardlink: %w", err)
	}
	return nil
}

func mknod(target string, hdr *tar.Header) error {
	mode := uint32(unix.S_IFIFO)
	switch hdr.Typeflag {
	case tar.TypeChar:
		mode = unix.S_IFCHR
	case tar.TypeBlock:
		mode = unix.S_IFBLK
	}
	dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
	if err := unix.Mknod(target, mode|0o600, int(dev)); err != nil {
		return fmt.Errorf("mknod: %w", err)
	}
	return nil
}

// setMeta applies owner, mode, xattrs and times, in that order: chown
// clears setuid bits and file capabilities, so it goes first. Directory
// times are only recorded, to be set by setDirTimes.
func (a *applier) setMeta(target string, hdr *tar.Header) error {
	uid, gid := hdr.Uid, hdr.Gid
	if a.owner != nil {
		uid, gid = a.owner[0], a.owner[1]
	}
	if err := os.Lchown(target, uid, gid); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	if hdr.Typeflag != tar.TypeSymlink {
		if err := unix.Chmod(target, uint32(hdr.Mode&0o7777)); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	if err := setXattrs(target, hdr); err != nil {
		return err
	}
	if hdr.Typeflag == tar.TypeDir {
		a.dirs = append(a.dirs, dirTime{path: target, atime: atime(hdr), mtim: hdr.ModTime})
		return nil
	}
	return setTimes(target, hdr)
}

func setXattrs(target string, hdr *tar.Header) error {
	var names []string
	for k := range hdr.PAXRecords {
		if name, ok := strings.CutPrefix(k, paxXattr); ok && !isOverlayXattr(name) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		v := hdr.PAXRecords[paxXattr+name]
		if err := unix.Lsetxattr(target, name, []byte(v), 0); err != nil {
			return fmt.Errorf("set xattr %s: %w", name, err)
		}
	}
	return nil
}

func atime(hdr *tar.Header) time.Time {
	if hdr.AccessTime.IsZero() {
		return hdr.ModTime
	}
	return hdr.AccessTime
}

func setTimes(target string, hdr *tar.Header) error {
	return lutimes(target, atime(hdr), hdr.ModTime)
}

func lutimes(p string, atime, mtime time.Time) error {
	at, err := unix.TimeToTimespec(atime)
	if err != nil {
		return fmt.Errorf("atime %s: %w", atime, err)
	}
	mt, err := unix.TimeToTimespec(mtime)
	if err != nil {
		return fmt.Errorf("mtime %s: %w", mtime, err)
	}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{at, mt}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}

// setDirTimes sets the recorded directory times, now that nothing more is
// written into the directories. Entries later replaced by a non-directory
// are skipped.
func (a *applier) setDirTimes() error {
	for _, d := range a.dirs {
		fi, err := os.Lstat(d.path)
		if errors.Is(err, fs.ErrNotExist) || (err == nil && !fi.IsDir()) {
			continue
		}
		if err != nil {
			return err
		}
		if err := lutimes(d.path, d.atime, d.mtim); err != nil {
			rel, _ := filepath.Rel(a.root, d.path)
			return fmt.Errorf("apply layer entry %q: %w", rel, err)
		}
	}
	return nil
}
