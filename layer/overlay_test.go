package layer

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/xbuild/xbuild/internal/testutil"
)

// TestOverlayUpperDiff makes changes through a real overlay mount and
// checks that the upper dir diffs to exactly those changes.
func TestOverlayUpperDiff(t *testing.T) {
	testutil.RequireRoot(t)
	base := t.TempDir()
	lower, upper, work, merged := mkdirs(t, base, "lower", "upper", "work", "merged")
	for _, f := range []string{"a/del.txt", "a/del2.txt", "a/keep.txt", "keep.txt", "replace/old.txt", "replace/sub/x"} {
		mkfile(t, filepath.Join(lower, f), f, 0o644)
	}
	opts := "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work
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
	m := func(s string) string { return filepath.Join(merged, s) }
	must(t, os.Remove(m("a/del.txt")))
	must(t, os.Remove(m("a/del2.txt")))
	must(t, os.RemoveAll(m("replace")))
	must(t, os.Mkdir(m("replace"), 0o755))
	mkfile(t, m("replace/new.txt"), "new", 0o644)
	mkfile(t, m("new.txt"), "top", 0o644)
	unmount()

	es := readTar(t, diffBytes(t, upper))
	want := []string{"a/", "a/.wh.del.txt", "a/.wh.del2.txt", "new.txt", "replace/", "replace/.wh..wh..opq", "replace/new.txt"}
	if got := names(es); !slices.Equal(got, want) {
		t.Fatalf("entries\n got %q\nwant %q", got, want)
	}
	for _, e := range es {
		for k := range e.hdr.PAXRecords {
			if strings.HasPrefix(k, paxXattr+"trusted.overlay.") {
				t.Errorf("%s: overlay xattr %s in tar", e.hdr.Name, k)
			}
		}
		if strings.Contains(e.hdr.Name, ".wh.") && (e.hdr.Size != 0 || e.hdr.Mode != 0) {
			t.Errorf("%s: size %d mode %o", e.hdr.Name, e.hdr.Size, e.hdr.Mode)
		}
		if e.hdr.Name == "replace/new.txt" && string(e.data) != "new" {
			t.Errorf("replace/new.txt: %q", e.data)
		}
	}
}

func mkdirs(t *testing.T, base string, names ...string) (a, b, c, d string) {
	t.Helper()
	var out []string
	for _, n := range names {
		p := filepath.Join(base, n)
		must(t, os.Mkdir(p, 0o755))
		out = append(out, p)
	}
	return out[0], out[1], out[2], out[3]
}
