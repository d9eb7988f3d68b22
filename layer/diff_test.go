package layer

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

func TestEmptyDiffID(t *testing.T) {
	var buf bytes.Buffer
	must(t, tar.NewWriter(&buf).Close())
	if got := digest.FromBytes(buf.Bytes()); got != EmptyDiffID {
		t.Errorf("empty tar digest %s, EmptyDiffID %s", got, EmptyDiffID)
	}
	if got := digest.FromBytes(diffBytes(t, t.TempDir())); got != EmptyDiffID {
		t.Errorf("WriteDiff of an empty dir: %s, want EmptyDiffID", got)
	}
}

func TestWriteDiffEntries(t *testing.T) {
	upper := buildUpper(t)
	es := readTar(t, diffBytes(t, upper))
	want := []string{
		"chardev", "dir/", "dir/file.txt", "dir/sub/", "dir/sub/deep.txt", "fifo",
		".wh.gone", ".wh.gone2", "hard1", "hard2", "link",
		"opaque/", "opaque/.wh..wh..opq", "opaque/inner.txt",
		"owned", "setuid", "sticky/", "xattr.txt",
	}
	if got := names(es); !slices.Equal(got, want) {
		t.Fatalf("entries\n got %q\nwant %q", got, want)
	}
	byName := map[string]*tar.Header{}
	for _, e := range es {
		h := e.hdr
		byName[h.Name] = h
		if h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: uname %q gname %q", h.Name, h.Uname, h.Gname)
		}
		if h.ModTime.Nanosecond() != 0 || !h.AccessTime.IsZero() || !h.ChangeTime.IsZero() {
			t.Errorf("%s: mtime %v atime %v ctime %v", h.Name, h.ModTime, h.AccessTime, h.ChangeTime)
		}
		for k := range h.PAXRecords {
			if strings.HasPrefix(k, paxXattr+"trusted.overlay.") {
				t.Errorf("%s: overlay xattr %s in tar", h.Name, k)
			}
		}
		if strings.HasPrefix(h.Name, "/") || strings.HasPrefix(h.Name, "./") {
			t.Errorf("%s: not a relative name", h.Name)
		}
	}
	check := func(name string, typ byte, mode int64, uid int, link string) {
		t.Helper()
		h := byName[name]
		if h.Typeflag != typ || h.Mode != mode || h.Uid != uid || h.Gid != uid || h.Linkname != link {
			t.Errorf("%s: type %q mode %o uid %d gid %d link %q, want %q %o %d %q",
				name, h.Typeflag, h.Mode, h.Uid, h.Gid, h.Linkname, typ, mode, uid, link)
		}
	}
	check("dir/file.txt", tar.TypeReg, 0o640, 0, "")
	check("dir/sub/", tar.TypeDir, 0o750, 0, "")
	check("setuid", tar.TypeReg, 0o4755, 0, "")
	check("sticky/", tar.TypeDir, 0o1777, 0, "")
	check("link", tar.TypeSymlink, 0o777, 0, "dir/file.txt")
	check("hard1", tar.TypeReg, 0o644, 0, "")
	check("hard2", tar.TypeLink, 0o644, 0, "hard1")
	check("fifo", tar.TypeFifo, 0o644, 0, "")
	check("chardev", tar.TypeChar, 0o666, 0, "")
	check("owned", tar.TypeReg, 0o600, 1000, "")
	for _, n := range []string{".wh.gone", ".wh.gone2", "opaque/.wh..wh..opq"} {
		check(n, tar.TypeReg, 0, 0, "")
		if byName[n].Size != 0 {
			t.Errorf("%s: size %d", n, byName[n].Size)
		}
	}
	if h := byName["chardev"]; h.Devmajor != 1 || h.Devminor != 3 {
		t.Errorf("chardev: %d:%d", h.Devmajor, h.Devminor)
	}
	if v := byName["xattr.txt"].PAXRecords[paxXattr+"user.foo"]; v != "bar" {
		t.Errorf("xattr.txt: user.foo = %q", v)
	}
	if h := byName["hard1"]; h.Size != 5 {
		t.Errorf("hard1: size %d", h.Size)
	}
	if byName["hard2"].Size != 0 {
		t.Errorf("hard2: size %d", byName["hard2"].Size)
	}
}

func TestWriteDiffDeterministic(t *testing.T) {
	upper := buildUpper(t)
	a, b := diffBytes(t, upper), diffBytes(t, upper)
	if !bytes.Equal(a, b) {
		t.Fatal("two diffs of the same dir differ")
	}
}

func TestRoundTrip(t *testing.T) {
	upper := buildUpper(t)
	tarball := diffBytes(t, upper)
	dir := t.TempDir()
	n, err := Apply(context.Background(), dir, bytes.NewReader(tarball))
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if n != int64(len(tarball)) {
		t.Errorf("Apply read %d bytes, tar is %d", n, len(tarball))
	}
	compareTrees(t, upper, dir)
	if !isWhiteout(dir+"/gone") || !isWhiteout(dir+"/gone2") {
		t.Error("whiteouts not restored as 0/0 char devices")
	}
	if v := xattrMap(t, dir+"/opaque")[opaqueXattr]; v != "y" {
		t.Errorf("opaque xattr %q", v)
	}
	if !sameInode(t, dir+"/hard1", dir+"/hard2") {
		t.Error("hard1 and hard2 are not one inode")
	}
	if again := diffBytes(t, dir); !bytes.Equal(again, tarball) {
		t.Error("diff of the applied tree differs from the original tar")
	}
}

func TestWriteDiffEpoch(t *testing.T) {
	upper := buildUpper(t)
	epoch := time.Date(2020, 1, 2, 6, 0, 0, 500, time.UTC)
	var buf bytes.Buffer
	must(t, WriteDiffOptions(context.Background(), upper, &buf, DiffOptions{Epoch: epoch}))
	clamped := 0
	for _, e := range readTar(t, buf.Bytes()) {
		if e.hdr.ModTime.After(epoch) {
			t.Errorf("%s: mtime %v after epoch", e.hdr.Name, e.hdr.ModTime)
		}
		if e.hdr.ModTime.Equal(epoch.Truncate(time.Second)) {
			clamped++
		}
	}
	if clamped == 0 {
		t.Error("no mtime was clamped")
	}
}

func TestWriteDiffCanceled(t *testing.T) {
	upper := buildUpper(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := WriteDiff(ctx, upper, &bytes.Buffer{}); !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
}

func TestWriteDiffRejectsWhiteoutNames(t *testing.T) {
	upper := t.TempDir()
	mkfile(t, upper+"/.wh.foo", "x", 0o644)
	err := WriteDiff(context.Background(), upper, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), ".wh.foo") {
		t.Errorf("err %v, want an error naming .wh.foo", err)
	}
}
