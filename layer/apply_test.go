package layer

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/xbuild/xbuild/internal/testutil"
)

func reg(name string) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644}
}

func dirHdr(name string) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755}
}

func symlink(name, target string) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}
}

func hardlink(name, target string) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target}
}

// applyIn applies a tar into outer/root, with a victim file in outer, and
// returns the root and Apply's error.
func applyIn(t *testing.T, hdrs ...*tar.Header) (outer, root string, err error) {
	t.Helper()
	testutil.RequireRoot(t)
	outer = t.TempDir()
	root = filepath.Join(outer, "root")
	must(t, os.Mkdir(root, 0o755))
	mkfile(t, filepath.Join(outer, "victim"), "victim", 0o644)
	_, err = Apply(context.Background(), root, bytes.NewReader(buildTar(t, hdrs...)))
	return outer, root, err
}

// checkOuter fails if Apply touched anything next to root.
func checkOuter(t testing.TB, outer string) {
	t.Helper()
	ents, err := os.ReadDir(outer)
	must(t, err)
	for _, e := range ents {
		if e.Name() != "root" && e.Name() != "victim" {
			t.Errorf("%s written outside the root", e.Name())
		}
	}
	if b, err := os.ReadFile(filepath.Join(outer, "victim")); err != nil || string(b) != "victim" {
		t.Errorf("victim changed: %q, %v", b, err)
	}
	var st unix.Stat_t
	must(t, unix.Lstat(filepath.Join(outer, "victim"), &st))
	if st.Nlink != 1 {
		t.Errorf("victim has %d links", st.Nlink)
	}
}

func TestApplyRejectsDotDot(t *testing.T) {
	for _, name := range []string{"../evil", "a/../../evil", "/../evil", ".."} {
		outer, _, err := applyIn(t, reg(name))
		if err == nil || !strings.Contains(err.Error(), "escapes") || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err %v, want an escape error naming the entry", name, err)
		}
		checkOuter(t, outer)
	}
}

func TestApplyAbsoluteNamesStayInside(t *testing.T) {
	outer, root, err := applyIn(t, reg("/abs/evil"), reg("//twice"))
	must(t, err)
	checkOuter(t, outer)
	for _, p := range []string{"abs/evil", "twice"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("%s not placed inside the root: %v", p, err)
		}
	}
	notExist(t, "/abs")
}

func TestApplySymlinkParentsStayInside(t *testing.T) {
	// A link to the real parent of root (absolute), "../.." and "/": writes
	// through them land inside the root, resolved as if root were "/".
	for _, target := range []string{"OUTER", "../..", "/"} {
		testutil.RequireRoot(t)
		outer := t.TempDir()
		root := filepath.Join(outer, "root")
		must(t, os.Mkdir(root, 0o755))
		mkfile(t, filepath.Join(outer, "victim"), "victim", 0o644)
		tgt := strings.Replace(target, "OUTER", outer, 1)
		tb := buildTar(t,
			symlink("link", tgt),
			reg("link/evil"),
			reg("link/victim"),
			&tar.Header{Typeflag: tar.TypeReg, Name: "link/.wh.victim"},
			dirHdr("link/newdir/"),
			reg("link/newdir/f"),
		)
		if _, err := Apply(context.Background(), root, bytes.NewReader(tb)); err != nil {
			t.Fatalf("link -> %s: %v", tgt, err)
		}
		checkOuter(t, outer)
		notExist(t, "/evil")
		notExist(t, "/newdir")
		inside := root
		if filepath.IsAbs(tgt) {
			inside = filepath.Join(root, tgt)
		}
		if _, err := os.Stat(filepath.Join(inside, "newdir/f")); err != nil {
			t.Errorf("link -> %s: newdir/f not inside the root: %v", tgt, err)
		}
		if !isWhiteout(filepath.Join(inside, "victim")) {
			t.Errorf("link -> %s: whiteout not placed at root/victim", tgt)
		}
	}
}

func TestApplyHardlinksStayInside(t *testing.T) {
	var passwd unix.Stat_t
	must(t, unix.Stat("/etc/passwd", &passwd))
	for _, hl := range []*tar.Header{
		hardlink("hl", "../../etc/passwd"),
		hardlink("hl", "../victim"),
	} {
		outer, root, err := applyIn(t, hl)
		if err == nil || !strings.Contains(err.Error(), "escapes") {
			t.Errorf("link to %s: err %v, want an escape error", hl.Linkname, err)
		}
		checkOuter(t, outer)
		notExist(t, filepath.Join(root, "hl"))
	}
	// Through symlinked parents the target resolves inside the root, where
	// it does not exist.
	for _, target := range []string{"/etc", "../../../etc"} {
		outer, root, err := applyIn(t, symlink("etc", target), hardlink("hl", "etc/passwd"))
		if err == nil {
			var st unix.Stat_t
			if unix.Lstat(filepath.Join(root, "hl"), &st) == nil && st.Ino == passwd.Ino && st.Dev == passwd.Dev {
				t.Fatalf("etc -> %s: hl is the host's /etc/passwd", target)
			}
			t.Errorf("etc -> %s: hardlink to a missing target succeeded", target)
		}
		checkOuter(t, outer)
	}
	// A hardlink to a symlink links the symlink itself.
	_, root, err := applyIn(t, symlink("s", "/etc/passwd"), hardlink("hs", "s"))
	must(t, err)
	if !sameInode(t, filepath.Join(root, "s"), filepath.Join(root, "hs")) {
		t.Error("hs is not a link to the symlink s")
	}
}

func TestApplyReplaces(t *testing.T) {
	_, root, err := applyIn(t,
		dirHdr("a/"), reg("a/inner"),
		reg("a"), // file over dir
		reg("b"),
		dirHdr("b/"), // dir over file
		dirHdr("c/"), reg("c/keep"),
		dirHdr("c/"), // dir over dir keeps contents
		symlink("d", "/"),
		dirHdr("d/"), // dir over symlink replaces the link
	)
	must(t, err)
	for p, dir := range map[string]bool{"a": false, "b": true, "c": true, "d": true} {
		fi, err := os.Lstat(filepath.Join(root, p))
		if err != nil || fi.IsDir() != dir {
			t.Errorf("%s: %v, dir=%v want %v", p, err, fi != nil && fi.IsDir(), dir)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "c/keep")); err != nil {
		t.Errorf("c/keep: %v", err)
	}
}

func TestApplyMetadata(t *testing.T) {
	old := unix.Umask(0o077)
	defer unix.Umask(old)
	_, root, err := applyIn(t,
		&tar.Header{Typeflag: tar.TypeDir, Name: "./", Mode: 0o751, Uid: 7, Gid: 8},
		reg("implicit/parent/file"),
		&tar.Header{Typeflag: tar.TypeReg, Name: "suid", Mode: 0o6755, Uid: 1000, Gid: 1000},
		&tar.Header{Typeflag: tar.TypeReg, Name: ".wh..wh.plnk"},
		&tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "pax_global_header", PAXRecords: map[string]string{"comment": "x"}},
		&tar.Header{Typeflag: tar.TypeReg, Name: "x", Mode: 0o644,
			PAXRecords: map[string]string{paxXattr + "user.a": "1", paxXattr + "trusted.overlay.redirect": "/etc"}},
	)
	must(t, err)
	stat := func(p string) unix.Stat_t {
		var st unix.Stat_t
		must(t, unix.Lstat(filepath.Join(root, p), &st))
		return st
	}
	if st := stat("."); st.Mode&0o7777 != 0o751 || st.Uid != 7 || st.Gid != 8 {
		t.Errorf("root: mode %o owner %d:%d", st.Mode&0o7777, st.Uid, st.Gid)
	}
	if st := stat("implicit/parent"); st.Mode&0o7777 != 0o755 || st.Uid != 0 {
		t.Errorf("implicit parent: mode %o uid %d", st.Mode&0o7777, st.Uid)
	}
	if st := stat("suid"); st.Mode&0o7777 != 0o6755 || st.Uid != 1000 || st.Gid != 1000 {
		t.Errorf("suid: mode %o owner %d:%d", st.Mode&0o7777, st.Uid, st.Gid)
	}
	notExist(t, filepath.Join(root, ".wh..wh.plnk"))
	notExist(t, filepath.Join(root, "pax_global_header"))
	if xs := xattrMap(t, filepath.Join(root, "x")); len(xs) != 1 || xs["user.a"] != "1" {
		t.Errorf("x: xattrs %v, want only user.a", xs)
	}
}

func TestApplyCountsTrailingBytes(t *testing.T) {
	testutil.RequireRoot(t)
	tb := append(buildTar(t, reg("f")), make([]byte, 9000)...)
	n, err := Apply(context.Background(), t.TempDir(), bytes.NewReader(tb))
	must(t, err)
	if n != int64(len(tb)) {
		t.Errorf("read %d, stream is %d", n, len(tb))
	}
}

func TestApplyTruncated(t *testing.T) {
	testutil.RequireRoot(t)
	tb := buildTar(t, reg("some/file/with/a/long/name"))
	if _, err := Apply(context.Background(), t.TempDir(), bytes.NewReader(tb[:520])); err == nil {
		t.Error("truncated tar applied without error")
	}
}
