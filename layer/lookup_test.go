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

	"golang.org/x/sys/unix"

	"github.com/xbuild/xbuild/internal/testutil"
)

// TestWriteDiffLowersHand diffs hand-made upper dirs, whose dirs are not
// opaque, against hand-made lowers.
func TestWriteDiffLowersHand(t *testing.T) {
	testutil.RequireRoot(t)
	base := t.TempDir()
	upper, wh, empty, bottom := mkdirs(t, base, "upper", "wh", "empty", "bottom")
	makeTree(t, upper, "x/")
	makeTree(t, bottom, "x/")
	makeTree(t, wh, "x=wh")
	mt := time.Date(2021, 5, 6, 7, 8, 9, 987654321, time.UTC)
	must(t, lutimes(upper+"/x", mt, mt))
	must(t, lutimes(bottom+"/x", mt, mt))
	for _, tc := range []struct {
		lowers []string
		want   []string
	}{
		{[]string{bottom}, nil},
		{[]string{empty, bottom}, nil},
		{[]string{wh, bottom}, []string{"x/"}},
		{[]string{empty}, []string{"x/"}},
	} {
		if got := names(readTar(t, diffLowers(t, upper, tc.lowers...))); !slices.Equal(got, tc.want) {
			t.Errorf("lowers %q: entries %q, want %q", tc.lowers, got, tc.want)
		}
	}

	// Below an opaque upper dir or a new one, the lowers never show.
	makeTree(t, upper, "o/=opq", "o/y/", "n/", "n/y/")
	makeTree(t, bottom, "o/y/")
	for _, p := range []string{upper + "/o/y", upper + "/n/y", bottom + "/o/y"} {
		must(t, lutimes(p, mt, mt))
	}
	want := []string{"n/", "n/y/", "o/", "o/.wh..wh..opq", "o/y/"}
	if got := names(readTar(t, diffLowers(t, upper, bottom))); !slices.Equal(got, want) {
		t.Errorf("fresh subtrees: entries %q, want %q", got, want)
	}

	must(t, unix.Lsetxattr(upper+"/x", overlayXattrNS+"redirect", []byte("/y"), 0))
	err := WriteDiffOptions(context.Background(), upper, &bytes.Buffer{}, DiffOptions{Lowers: []string{bottom}})
	if err == nil || !strings.Contains(err.Error(), "redirect") {
		t.Errorf("redirect dir: err %v, want a redirect error", err)
	}
}

func TestWriteDiffLowersBad(t *testing.T) {
	upper := t.TempDir()
	file := filepath.Join(upper, "f")
	mkfile(t, file, "x", 0o644)
	for _, l := range []string{filepath.Join(upper, "missing"), file} {
		err := WriteDiffOptions(context.Background(), upper, &bytes.Buffer{}, DiffOptions{Lowers: []string{l}})
		if err == nil {
			t.Errorf("lower %s: no error", l)
		}
	}
}

// TestLookupLower checks the merged-view lookup against overlay's rules.
// Lowers are given top first; "" means not found.
func TestLookupLower(t *testing.T) {
	testutil.RequireRoot(t)
	for _, tc := range []struct {
		name   string
		lowers [][]string
		path   string
		want   string // "L<i>/path" of the winner, or ""
	}{
		{"bottom only", [][]string{{}, {"a/x/"}}, "a/x", "L1/a/x"},
		{"top wins", [][]string{{"a/x/"}, {"a/x/"}}, "a/x", "L0/a/x"},
		{"absent", [][]string{{"a/"}, {"b/"}}, "a/x", ""},
		{"whiteout at path", [][]string{{"a/", "a/x=wh"}, {"a/x/"}}, "a/x", ""},
		{"whiteout at ancestor", [][]string{{"a=wh"}, {"a/x/"}}, "a/x", ""},
		{"whiteout in a deeper lower", [][]string{{"a/x/"}, {"a=wh"}}, "a/x", "L0/a/x"},
		{"file at ancestor", [][]string{{"a"}, {"a/x/"}}, "a/x", ""},
		{"symlink at ancestor", [][]string{{"a->../L1/a"}, {"a/x/"}}, "a/x", ""},
		{"opaque ancestor", [][]string{{"a/=opq"}, {"a/x/"}}, "a/x", ""},
		{"opaque ancestor holds it", [][]string{{"a/=opq", "a/x/"}, {"a/x/"}}, "a/x", "L0/a/x"},
		{"opaque ancestor deep", [][]string{{"a/=opq", "a/b/"}, {"a/b/x/"}}, "a/b/x", ""},
		{"opaque in the middle", [][]string{{"a/"}, {"a/=opq"}, {"a/x/"}}, "a/x", ""},
		{"opaque at path", [][]string{{"a/x/=opq"}, {"a/x/"}}, "a/x", "L0/a/x"},
		{"file at path", [][]string{{"a/", "a/x"}, {"a/x/"}}, "a/x", "L0/a/x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			d := &differ{}
			for i, specs := range tc.lowers {
				root := filepath.Join(base, "L"+string(rune('0'+i)))
				makeTree(t, root, specs...)
				d.lowers = append(d.lowers, root)
			}
			p, st, ok, err := d.lookupLower(tc.path)
			must(t, err)
			got := ""
			if ok {
				got, _ = filepath.Rel(base, p)
				if st == nil {
					t.Error("found without a stat")
				}
			}
			if got != tc.want {
				t.Errorf("lookup %s: %q, want %q", tc.path, got, tc.want)
			}
		})
	}
}

// makeTree makes root and the entries specs name: "d/" a dir, "d/=opq" an
// opaque dir, "f" a file, "f=wh" a whiteout, "l->target" a symlink.
// Parents are made as plain dirs.
func makeTree(t *testing.T, root string, specs ...string) {
	t.Helper()
	must(t, os.MkdirAll(root, 0o755))
	for _, s := range specs {
		name, kind, _ := strings.Cut(s, "=")
		name, target, link := strings.Cut(name, "->")
		p := filepath.Join(root, name)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		switch {
		case link:
			must(t, os.Symlink(target, p))
		case kind == "wh":
			must(t, unix.Mknod(p, unix.S_IFCHR, 0))
		case strings.HasSuffix(name, "/"):
			must(t, os.MkdirAll(p, 0o755))
			must(t, os.Chmod(p, 0o755))
			if kind == "opq" {
				must(t, unix.Setxattr(p, opaqueXattr, []byte("y"), 0))
			}
		default:
			mkfile(t, p, name, 0o644)
		}
	}
}

func TestSameXattrs(t *testing.T) {
	x := func(kv ...string) []xattr {
		var out []xattr
		for i := 0; i < len(kv); i += 2 {
			out = append(out, xattr{name: kv[i], value: []byte(kv[i+1])})
		}
		return out
	}
	rec := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[paxXattr+kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name string
		rec  map[string]string
		xs   []xattr
		want bool
	}{
		{"none", nil, nil, true},
		{"equal", rec("user.a", "1", "security.capability", "c"), x("security.capability", "c", "user.a", "1"), true},
		{"overlay ignored", rec("user.a", "1"), x("trusted.overlay.origin", "o", "user.a", "1"), true},
		{"other pax ignored", map[string]string{"comment": "x"}, nil, true},
		{"value differs", rec("user.a", "1"), x("user.a", "2"), false},
		{"missing in upper", nil, x("user.a", "1"), false},
		{"extra in upper", rec("user.a", "1"), nil, false},
		{"empty value", rec("user.a", ""), x("user.a", ""), true},
	} {
		if got := sameXattrs(tc.rec, tc.xs); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
