package ops

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"

	"github.com/xbuild/xbuild/layer"
)

// securePath resolves p (absolute in the rootfs) to a host path inside root.
func securePath(root, p string) (string, error) {
	out, err := securejoin.SecureJoin(root, p)
	if err != nil {
		return "", fmt.Errorf("resolve %s in the image: %w", p, err)
	}
	return out, nil
}

func isDir(root, p string) bool {
	hp, err := securePath(root, p)
	if err != nil {
		return false
	}
	fi, err := os.Stat(hp)
	return err == nil && fi.IsDir()
}

// mkdirAll creates p (absolute in the rootfs) and its missing parents with
// mode, owned by own (root if nil). It returns the host path.
func mkdirAll(root, p string, mode os.FileMode, own *owner) (string, error) {
	cur := "/"
	for _, part := range strings.Split(filepath.Clean(p), "/") {
		if part == "" {
			continue
		}
		cur = filepath.Join(cur, part)
		hp, err := securePath(root, cur)
		if err != nil {
			return "", err
		}
		fi, err := os.Stat(hp)
		if err == nil {
			if !fi.IsDir() {
				return "", fmt.Errorf("mkdir %s: %s is not a directory", p, cur)
			}
			continue
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		if err := os.Mkdir(hp, mode); err != nil {
			return "", fmt.Errorf("mkdir %s: %w", cur, err)
		}
		if own != nil {
			if err := os.Lchown(hp, own.uid, own.gid); err != nil {
				return "", err
			}
		}
		if err := os.Chmod(hp, mode); err != nil {
			return "", err
		}
	}
	return securePath(root, p)
}

// createEntry creates a copy of the non-directory src at target.
func createEntry(src string, fi os.FileInfo, target string) error {
	mode := fi.Mode()
	switch {
	case mode.IsRegular():
		in, err := os.Open(src)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil { // copy_file_range when it can
			out.Close()
			return err
		}
		return out.Close()
	case mode&os.ModeSymlink != 0:
		link, err := os.Readlink(src)
		if err != nil {
			return err
		}
		return os.Symlink(link, target)
	case mode&os.ModeNamedPipe != 0:
		return unix.Mkfifo(target, 0o600)
	case mode&os.ModeDevice != 0:
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: no device number", src)
		}
		typ := uint32(unix.S_IFBLK)
		if mode&os.ModeCharDevice != 0 {
			typ = unix.S_IFCHR
		}
		return unix.Mknod(target, typ|0o600, int(st.Rdev))
	case mode&os.ModeSocket != 0:
		return nil
	}
	return fmt.Errorf("%s: unsupported file type %v", src, mode.Type())
}

func setTimes(target string, fi os.FileInfo) error {
	ts := []unix.Timespec{unix.NsecToTimespec(fi.ModTime().UnixNano()), unix.NsecToTimespec(fi.ModTime().UnixNano())}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, target, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("set times of %s: %w", target, err)
	}
	return nil
}

func fileOwner(fi os.FileInfo) (int, int) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), int(st.Gid)
	}
	return 0, 0
}

// unxz decompresses r with the host's xz, as Docker's archive package
// does (Go's standard library has no xz reader).
func unxz(ctx context.Context, r io.Reader) (io.Reader, func() error, error) {
	path, err := exec.LookPath("xz")
	if err != nil {
		return nil, nil, fmt.Errorf("%w: xz archives need the xz program on the host", errors.ErrUnsupported)
	}
	cmd := exec.CommandContext(ctx, path, "-d", "-c", "-q")
	cmd.Stdin = r
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	wait := func() error {
		io.Copy(io.Discard, out)
		if err := cmd.Wait(); err != nil {
			return fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
		}
		return nil
	}
	return out, wait, nil
}

// extract unpacks a local tar archive (plain, gzip, bzip2, xz or zstd) into
// dest, as ADD does. It reports false for files that are not archives.
func (c *copier) extract(ctx context.Context, rel, dest string) (ok bool, err error) {
	f, err := os.Open(c.src.Path(rel))
	if err != nil {
		return false, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<16)
	head, _ := br.Peek(6)
	var r io.Reader = br
	switch {
	case bytes.HasPrefix(head, []byte("BZh")):
		r = bzip2.NewReader(br)
	case bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		xr, wait, xerr := unxz(ctx, br)
		if xerr != nil {
			return false, fmt.Errorf("ADD %s: %w", rel, xerr)
		}
		defer func() {
			if werr := wait(); werr != nil && err == nil {
				err = fmt.Errorf("ADD %s: xz: %w", rel, werr)
			}
		}()
		r = xr
	default:
		rc, err := layer.Decompress(br)
		if err != nil {
			return false, nil
		}
		defer rc.Close()
		r = rc
	}
	tr := bufio.NewReaderSize(r, 1<<16)
	if h, err := tr.Peek(512); err != nil || !bytes.Equal(h[257:262], []byte("ustar")) {
		return false, nil
	}
	hostDest, err := mkdirAll(c.root, dest, 0o755, c.owner)
	if err != nil {
		return false, err
	}
	var opt layer.ExtractOptions
	if c.owner != nil {
		opt.Owner = &[2]int{c.owner.uid, c.owner.gid}
	}
	if _, err := layer.Extract(ctx, hostDest, tr, opt); err != nil {
		return true, fmt.Errorf("ADD %s: extract: %w", rel, err)
	}
	return true, nil
}

// copyXattrs copies extended attributes, except overlayfs' own.
func copyXattrs(src, dst string) error {
	sz, err := unix.Llistxattr(src, nil)
	if err != nil || sz == 0 {
		return nil // no xattrs, or a filesystem without them
	}
	buf := make([]byte, sz)
	if sz, err = unix.Llistxattr(src, buf); err != nil {
		return nil
	}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:sz]), "\x00"), "\x00") {
		if name == "" || strings.HasPrefix(name, "trusted.overlay.") {
			continue
		}
		vsz, err := unix.Lgetxattr(src, name, nil)
		if err != nil {
			continue
		}
		val := make([]byte, vsz)
		if vsz, err = unix.Lgetxattr(src, name, val); err != nil {
			continue
		}
		if err := unix.Lsetxattr(dst, name, val[:vsz], 0); err != nil && !errors.Is(err, unix.ENOTSUP) {
			return fmt.Errorf("copy xattr %s: %w", name, err)
		}
	}
	return nil
}
