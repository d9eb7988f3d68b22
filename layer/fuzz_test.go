package layer

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xbuild/xbuild/internal/testutil"
)

func FuzzCleanName(f *testing.F) {
	for _, s := range []string{"a/b", "./a", "/abs", "../x", "a/../../x", "//", ".", "a/./b/", "..a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		c, err := cleanName(name)
		if err != nil {
			return
		}
		if c == "" {
			return
		}
		if path.IsAbs(c) || c == ".." || strings.HasPrefix(c, "../") || path.Clean(c) != c {
			t.Errorf("cleanName(%q) = %q", name, c)
		}
	})
}

// FuzzApply applies arbitrary tars and checks that nothing is ever written
// next to the root.
func FuzzApply(f *testing.F) {
	testutil.RequireRoot(f)
	for _, hdrs := range [][]*tar.Header{
		{symlink("l", "/"), reg("l/evil")},
		{symlink("l", "../.."), dirHdr("l/d/"), reg("l/d/f")},
		{reg("../evil")},
		{symlink("e", "/etc"), hardlink("h", "e/passwd")},
		{symlink("l", ".."), {Typeflag: tar.TypeReg, Name: "l/.wh.victim"}},
	} {
		f.Add(buildTar(f, hdrs...))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		outer := t.TempDir()
		root := filepath.Join(outer, "root")
		must(t, os.Mkdir(root, 0o755))
		mkfile(t, filepath.Join(outer, "victim"), "victim", 0o644)
		Apply(context.Background(), root, bytes.NewReader(b))
		checkOuter(t, outer)
	})
}
