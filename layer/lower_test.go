package layer

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/xbuild/xbuild/internal/testutil"
)

// noLowersDigest is the digest of WriteDiff of goldenUpper, taken before
// DiffOptions.Lowers existed. It pins the output without Lowers.
const noLowersDigest = "sha256:daa142caf4154a905b48fb6c5bdafb38e430dfd2e6eb783127ab922bebedc8eb"

// goldenUpper is buildUpper with the modes umask could change pinned.
func goldenUpper(t *testing.T) string {
	u := buildUpper(t)
	for _, d := range []string{"dir", "opaque"} {
		must(t, os.Chmod(filepath.Join(u, d), 0o755))
	}
	return u
}

func TestWriteDiffNoLowersUnchanged(t *testing.T) {
	u := goldenUpper(t)
	want := diffBytes(t, u)
	if got := digest.FromBytes(want); got != noLowersDigest {
		t.Errorf("WriteDiff digest %s, want %s", got, noLowersDigest)
	}
	for _, opts := range []DiffOptions{{}, {Lowers: []string{}}} {
		var buf bytes.Buffer
		must(t, WriteDiffOptions(context.Background(), u, &buf, opts))
		if !bytes.Equal(buf.Bytes(), want) {
			t.Errorf("WriteDiffOptions(%+v) differs from WriteDiff", opts)
		}
	}
}

func diffLowers(t *testing.T, upper string, lowers ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteDiffOptions(context.Background(), upper, &buf, DiffOptions{Lowers: lowers}); err != nil {
		t.Fatalf("WriteDiffOptions: %v", err)
	}
	return buf.Bytes()
}

// mountOverlay mounts lowers (top first) under upper at merged and returns
// an idempotent unmount, also run at cleanup.
func mountOverlay(t *testing.T, lowers []string, upper, work, merged string) func() {
	t.Helper()
	opts := "lowerdir=" + strings.Join(lowers, ":") + ",upperdir=" + upper + ",workdir=" + work
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		t.Fatalf("mount overlay: %v", err)
	}
	mounted := true
	unmount := func() {
		if mounted {
			must(t, unix.Unmount(merged, 0))
			mounted = false
		}
	}
	t.Cleanup(unmount)
	return unmount
}

func mtimeOf(t *testing.T, p string) time.Time {
	t.Helper()
	var st unix.Stat_t
	must(t, unix.Lstat(p, &st))
	return time.Unix(st.Mtim.Sec, st.Mtim.Nsec)
}

// TestWriteDiffLowersOverlay changes a lower through a real overlay mount
// and checks which upper dirs WriteDiff with Lowers writes.
func TestWriteDiffLowersOverlay(t *testing.T) {
	testutil.RequireRoot(t)
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, m, lower func(string) string)
		want   []string
	}{
		{"copied up only", func(t *testing.T, m, l func(string) string) {
			mkfile(t, m("etc/stub"), "x", 0o644)
			must(t, os.Remove(m("etc/stub")))
			restore(t, m("etc"), l("etc"))
		}, nil},
		{"new child", func(t *testing.T, m, l func(string) string) {
			mkfile(t, m("etc/new"), "x", 0o644)
			restore(t, m("etc"), l("etc"))
		}, []string{"etc/", "etc/new"}},
		{"deleted child", func(t *testing.T, m, l func(string) string) {
			must(t, os.Remove(m("etc/passwd")))
			restore(t, m("etc"), l("etc"))
		}, []string{"etc/", "etc/.wh.passwd"}},
		{"chmod", func(t *testing.T, m, _ func(string) string) {
			must(t, os.Chmod(m("etc"), 0o750))
		}, []string{"etc/"}},
		{"chown uid", func(t *testing.T, m, _ func(string) string) {
			must(t, os.Lchown(m("etc"), 1000, -1))
		}, []string{"etc/"}},
		{"chown gid", func(t *testing.T, m, _ func(string) string) {
			must(t, os.Lchown(m("etc"), -1, 1000))
		}, []string{"etc/"}},
		{"xattr", func(t *testing.T, m, _ func(string) string) {
			must(t, unix.Lsetxattr(m("etc"), "user.foo", []byte("bar"), 0))
		}, []string{"etc/"}},
		{"mtime nanoseconds", func(t *testing.T, m, l func(string) string) {
			mt := mtimeOf(t, l("etc")).Add(time.Nanosecond)
			must(t, os.Chtimes(m("etc"), mt, mt))
		}, []string{"etc/"}},
		{"new dir", func(t *testing.T, m, _ func(string) string) {
			must(t, os.Mkdir(m("newdir"), 0o755))
		}, []string{"newdir/"}},
		{"opaque", func(t *testing.T, m, l func(string) string) {
			must(t, os.RemoveAll(m("etc")))
			must(t, os.Mkdir(m("etc"), 0o755))
			must(t, os.Chmod(m("etc"), 0o755))
			restore(t, m("etc"), l("etc"))
		}, []string{"etc/", "etc/.wh..wh..opq"}},
		{"opaque with an old-looking child", func(t *testing.T, m, l func(string) string) {
			must(t, os.RemoveAll(m("a")))
			must(t, os.MkdirAll(m("a/b"), 0o755))
			must(t, os.Chmod(m("a/b"), 0o755))
			restore(t, m("a/b"), l("a/b"))
			restore(t, m("a"), l("a"))
		}, []string{"a/", "a/.wh..wh..opq", "a/b/"}},
		{"nested", func(t *testing.T, m, l func(string) string) {
			for _, d := range []string{"a/b/c", "a/y"} {
				mkfile(t, m(d+"/stub"), "x", 0o644)
				must(t, os.Remove(m(d+"/stub")))
				restore(t, m(d), l(d))
			}
			mkfile(t, m("a/b/d/new"), "x", 0o644)
		}, []string{"a/", "a/b/", "a/b/d/", "a/b/d/new"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lower, upper, work, merged := mkdirs(t, t.TempDir(), "lower", "upper", "work", "merged")
			for _, f := range []string{"etc/passwd", "a/b/c/keep", "a/b/d/keep", "a/y/keep"} {
				mkfile(t, filepath.Join(lower, f), f, 0o644)
			}
			for _, d := range []string{"etc", "a", "a/b", "a/b/c", "a/b/d", "a/y"} {
				must(t, os.Chmod(filepath.Join(lower, d), 0o755))
			}
			stampTimes(t, lower) // sub-second mtimes, as overlay keeps them
			unmount := mountOverlay(t, []string{lower}, upper, work, merged)
			m := func(s string) string { return filepath.Join(merged, s) }
			l := func(s string) string { return filepath.Join(lower, s) }
			tc.change(t, m, l)
			unmount()

			b := diffLowers(t, upper, lower)
			if got := names(readTar(t, b)); !slices.Equal(got, tc.want) {
				t.Fatalf("entries\n got %q\nwant %q", got, tc.want)
			}
			if tc.want == nil && digest.FromBytes(b) != EmptyDiffID {
				t.Errorf("diffID %s, want EmptyDiffID", digest.FromBytes(b))
			}
			if tc.name == "copied up only" {
				// The upper dir does hold etc/; only Lowers leaves it out.
				if got := names(readTar(t, diffBytes(t, upper))); !slices.Equal(got, []string{"etc/"}) {
					t.Errorf("without Lowers: %q, want [etc/]", got)
				}
			}
		})
	}
}

// restore gives the dir at p (through the mount) the mtime of lower.
func restore(t *testing.T, p, lower string) {
	t.Helper()
	mt := mtimeOf(t, lower)
	must(t, os.Chtimes(p, mt, mt))
}

// TestWriteDiffLowersWhiteoutAbove mounts two lowers where the top one
// whites out x and the bottom one has x/; a dir x made through the mount
// is new, whatever its metadata.
func TestWriteDiffLowersWhiteoutAbove(t *testing.T) {
	testutil.RequireRoot(t)
	base := t.TempDir()
	top, bottom := filepath.Join(base, "top"), filepath.Join(base, "bottom")
	upper, work, merged, _ := mkdirs(t, base, "upper", "work", "merged", "unused")
	makeTree(t, top, "x=wh")
	makeTree(t, bottom, "x/", "x/f")
	mt := time.Date(2021, 5, 6, 7, 8, 9, 987654321, time.UTC)
	must(t, lutimes(filepath.Join(bottom, "x"), mt, mt))

	unmount := mountOverlay(t, []string{top, bottom}, upper, work, merged)
	if _, err := os.Lstat(filepath.Join(merged, "x")); err == nil {
		t.Fatal("x visible through the mount")
	}
	must(t, os.Mkdir(filepath.Join(merged, "x"), 0o755))
	must(t, os.Chmod(filepath.Join(merged, "x"), 0o755))
	must(t, os.Chtimes(filepath.Join(merged, "x"), mt, mt))
	unmount()

	got := names(readTar(t, diffLowers(t, upper, top, bottom)))
	if len(got) == 0 || got[0] != "x/" {
		t.Fatalf("entries %q, want x/ first", got)
	}
	for _, n := range got[1:] {
		if n != "x/"+opaqueMarker {
			t.Errorf("unexpected entry %s", n)
		}
	}
	// Overlay need not make x opaque (a whiteout in a lower is not one in
	// the upper); then only the lookup through top keeps x/, as the
	// bottom lower alone shows.
	if xattrMap(t, upper+"/x")[opaqueXattr] != "y" {
		if got := names(readTar(t, diffLowers(t, upper, bottom))); got != nil {
			t.Errorf("bottom lower only: entries %q, want none", got)
		}
	}
}
