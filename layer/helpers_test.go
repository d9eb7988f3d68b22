package layer

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/xbuild/xbuild/internal/testutil"
)

// tarEntry is one entry read back from a tar.
type tarEntry struct {
	hdr  *tar.Header
	data []byte
}

func readTar(t testing.TB, b []byte) []tarEntry {
	t.Helper()
	var out []tarEntry
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("read tar entry %s: %v", hdr.Name, err)
		}
		out = append(out, tarEntry{hdr: hdr, data: data})
	}
}

func names(es []tarEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.hdr.Name)
	}
	return out
}

// buildTar makes a tar from headers; regular files get body as content.
func buildTar(t testing.TB, hdrs ...*tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(h.Name))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(h.Name))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func diffBytes(t testing.TB, upper string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteDiff(context.Background(), upper, &buf); err != nil {
		t.Fatalf("WriteDiff: %v", err)
	}
	return buf.Bytes()
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mkfile(t testing.TB, p, data string, mode os.FileMode) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(p), 0o755))
	must(t, os.WriteFile(p, []byte(data), mode))
	must(t, os.Chmod(p, mode))
}

// buildUpper makes an overlay upper dir by hand with one of everything.
func buildUpper(t testing.TB) string {
	t.Helper()
	testutil.RequireRoot(t)
	u := t.TempDir()
	p := func(s string) string { return filepath.Join(u, s) }
	mkfile(t, p("dir/file.txt"), "hello\n", 0o640)
	mkfile(t, p("dir/sub/deep.txt"), "deep\n", 0o644)
	must(t, os.Chmod(p("dir/sub"), 0o750))
	mkfile(t, p("setuid"), "#!/bin/sh\n", 0o755)
	must(t, os.Chmod(p("setuid"), 0o755|os.ModeSetuid))
	must(t, os.Mkdir(p("sticky"), 0o755))
	must(t, os.Chmod(p("sticky"), 0o777|os.ModeSticky))
	must(t, os.Symlink("dir/file.txt", p("link")))
	mkfile(t, p("hard1"), "same\n", 0o644)
	must(t, os.Link(p("hard1"), p("hard2")))
	must(t, unix.Mkfifo(p("fifo"), 0o644))
	must(t, unix.Mknod(p("chardev"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	must(t, os.Chmod(p("chardev"), 0o666))
	must(t, unix.Mknod(p("sock"), unix.S_IFSOCK|0o644, 0))
	mkfile(t, p("owned"), "mine\n", 0o600)
	must(t, os.Lchown(p("owned"), 1000, 1000))
	mkfile(t, p("xattr.txt"), "x\n", 0o644)
	must(t, unix.Lsetxattr(p("xattr.txt"), "user.foo", []byte("bar"), 0))
	must(t, unix.Mknod(p("gone"), unix.S_IFCHR, 0))
	must(t, os.Link(p("gone"), p("gone2"))) // overlayfs shares one whiteout inode
	mkfile(t, p("opaque/inner.txt"), "in\n", 0o644)
	must(t, unix.Setxattr(p("opaque"), opaqueXattr, []byte("y"), 0))
	must(t, unix.Setxattr(p("opaque"), overlayXattrNS+"origin", []byte("junk"), 0))
	stampTimes(t, u)
	return u
}

// stampTimes gives every file a distinct mtime with a sub-second part.
func stampTimes(t testing.TB, root string) {
	t.Helper()
	base := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	i := 0
	var paths []string
	must(t, filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		paths = append(paths, p)
		return err
	}))
	for j := len(paths) - 1; j > 0; j-- { // children before parents
		i++
		mt := base.Add(time.Duration(i)*time.Hour + 123456789)
		must(t, lutimes(paths[j], mt, mt))
	}
}

// compareTrees checks that got holds the same files as want, with the same
// types, modes, owners, contents, link targets, device numbers, xattrs and
// (whole-second) mtimes. Sockets in want are expected to be missing.
func compareTrees(t testing.TB, want, got string) {
	t.Helper()
	seen := map[string]bool{}
	must(t, filepath.WalkDir(want, func(p string, _ fs.DirEntry, err error) error {
		if err != nil || p == want {
			return err
		}
		rel, _ := filepath.Rel(want, p)
		var ws unix.Stat_t
		must(t, unix.Lstat(p, &ws))
		if ws.Mode&unix.S_IFMT == unix.S_IFSOCK {
			return nil
		}
		seen[rel] = true
		compareFile(t, rel, p, filepath.Join(got, rel), &ws)
		return nil
	}))
	must(t, filepath.WalkDir(got, func(p string, _ fs.DirEntry, err error) error {
		if err != nil || p == got {
			return err
		}
		if rel, _ := filepath.Rel(got, p); !seen[rel] {
			t.Errorf("%s: unexpected in applied tree", rel)
		}
		return nil
	}))
}

func compareFile(t testing.TB, rel, wp, gp string, ws *unix.Stat_t) {
	t.Helper()
	var gs unix.Stat_t
	if err := unix.Lstat(gp, &gs); err != nil {
		t.Errorf("%s: %v", rel, err)
		return
	}
	if ws.Mode != gs.Mode || ws.Uid != gs.Uid || ws.Gid != gs.Gid || ws.Rdev != gs.Rdev {
		t.Errorf("%s: mode %o uid %d gid %d rdev %d, want %o %d %d %d", rel,
			gs.Mode, gs.Uid, gs.Gid, gs.Rdev, ws.Mode, ws.Uid, ws.Gid, ws.Rdev)
	}
	if ws.Mtim.Sec != gs.Mtim.Sec || gs.Mtim.Nsec != 0 {
		t.Errorf("%s: mtime %v, want %v (whole seconds)", rel, gs.Mtim, ws.Mtim.Sec)
	}
	switch ws.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		w, _ := os.ReadFile(wp)
		g, _ := os.ReadFile(gp)
		if !bytes.Equal(w, g) {
			t.Errorf("%s: content %q, want %q", rel, g, w)
		}
	case unix.S_IFLNK:
		w, _ := os.Readlink(wp)
		g, _ := os.Readlink(gp)
		if w != g {
			t.Errorf("%s: link target %q, want %q", rel, g, w)
		}
	}
	wx, gx := xattrMap(t, wp), xattrMap(t, gp)
	for k, v := range wx {
		if isOverlayXattr(k) && k != opaqueXattr {
			continue
		}
		if gx[k] != v {
			t.Errorf("%s: xattr %s = %q, want %q", rel, k, gx[k], v)
		}
	}
	if len(gx) > len(wx) {
		t.Errorf("%s: xattrs %v, want %v", rel, gx, wx)
	}
}

func xattrMap(t testing.TB, p string) map[string]string {
	t.Helper()
	xs, err := listXattrs(p)
	must(t, err)
	m := map[string]string{}
	for _, x := range xs {
		m[x.name] = string(x.value)
	}
	return m
}

func isWhiteout(p string) bool {
	var st unix.Stat_t
	return unix.Lstat(p, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

func notExist(t testing.TB, p string) {
	t.Helper()
	if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s exists (err %v)", p, err)
	}
}

// semiCompressible returns n bytes that gzip to about 40%: words from a
// small vocabulary mixed with runs of random bytes.
func semiCompressible(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	words := []string{"layer ", "overlay ", "whiteout ", "digest ", "sha256 ", "tar ", "/usr/lib/", "\n"}
	b := make([]byte, 0, n+64)
	for len(b) < n {
		if r.IntN(8) == 0 {
			for range 16 {
				b = append(b, byte(r.Uint32()))
			}
			continue
		}
		b = append(b, words[r.IntN(len(words))]...)
	}
	return b[:n]
}

func sameInode(t testing.TB, a, b string) bool {
	t.Helper()
	var sa, sb unix.Stat_t
	must(t, unix.Lstat(a, &sa))
	must(t, unix.Lstat(b, &sb))
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

// benchTar builds a tar of about size bytes: 1 MiB files of
// semi-compressible data.
func benchTar(t testing.TB, size int) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; buf.Len() < size-(1<<20)-2048; i++ {
		data := semiCompressible(1<<20, uint64(i))
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: "f" + strconv.Itoa(i), Mode: 0o644, Size: int64(len(data))}
		must(t, tw.WriteHeader(hdr))
		_, err := tw.Write(data)
		must(t, err)
	}
	must(t, tw.Close())
	return buf.Bytes()
}
