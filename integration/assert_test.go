package integration

import (
	"archive/tar"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/xbuild/xbuild/internal/testutil"
)

// hist is an expected history entry.
type hist struct {
	by     string
	empty  bool
	prefix bool // by is only a prefix of created_by
}

// layer, meta and metaPrefix make expected history entries.
func layer(by string) hist      { return hist{by: by} }
func meta(by string) hist       { return hist{by: by, empty: true} }
func metaPrefix(by string) hist { return hist{by: by, empty: true, prefix: true} }

// checkHistory checks that img's history after the first `from` entries is
// exactly want, each with BuildKit's comment.
func checkHistory(t *testing.T, img *testutil.Image, from int, want ...hist) {
	t.Helper()
	h := img.Config.History
	if len(h) != from+len(want) {
		t.Errorf("%s: %d history entries, want %d + %d:\n%s", img.Name, len(h), from, len(want), formatHistory(h))
		return
	}
	for i, w := range want {
		got := h[from+i]
		ok := got.CreatedBy == w.by || (w.prefix && strings.HasPrefix(got.CreatedBy, w.by))
		if !ok {
			t.Errorf("%s: history[%d].created_by = %q, want %q (prefix: %v)", img.Name, from+i, got.CreatedBy, w.by, w.prefix)
		}
		if got.EmptyLayer != w.empty {
			t.Errorf("%s: history[%d] (%s): empty_layer = %v, want %v", img.Name, from+i, got.CreatedBy, got.EmptyLayer, w.empty)
		}
		if got.Comment != historyComment {
			t.Errorf("%s: history[%d] (%s): comment = %q, want %q", img.Name, from+i, got.CreatedBy, got.Comment, historyComment)
		}
	}
}

// formatHistory lists history entries for failure messages.
func formatHistory(h []testutil.History) string {
	var b strings.Builder
	for i, e := range h {
		fmt.Fprintf(&b, "  [%d] empty=%v %s\n", i, e.EmptyLayer, e.CreatedBy)
	}
	return b.String()
}

// checkFile checks a regular file of the flattened image.
func checkFile(t *testing.T, img *testutil.Image, path, content string, mode int64, uid, gid int) {
	t.Helper()
	e, ok := img.FS[path]
	if !ok {
		t.Errorf("%s: %s does not exist", img.Name, path)
		return
	}
	if e.Type != tar.TypeReg {
		t.Errorf("%s: %s is not a regular file: %s", img.Name, path, e)
		return
	}
	if string(e.Content) != content {
		t.Errorf("%s: %s has content %q, want %q", img.Name, path, e.Content, content)
	}
	checkMeta(t, img, e, mode, uid, gid)
}

// checkDir checks a directory of the flattened image.
func checkDir(t *testing.T, img *testutil.Image, path string, mode int64, uid, gid int) {
	t.Helper()
	e, ok := img.FS[path]
	if !ok {
		t.Errorf("%s: directory %s does not exist", img.Name, path)
		return
	}
	if e.Type != tar.TypeDir {
		t.Errorf("%s: %s is not a directory: %s", img.Name, path, e)
		return
	}
	checkMeta(t, img, e, mode, uid, gid)
}

// checkMeta checks an entry's permission bits and owner.
func checkMeta(t *testing.T, img *testutil.Image, e testutil.Entry, mode int64, uid, gid int) {
	t.Helper()
	if e.Mode != mode {
		t.Errorf("%s: %s has mode %04o, want %04o", img.Name, e.Path, e.Mode, mode)
	}
	if e.UID != uid || e.GID != gid {
		t.Errorf("%s: %s is owned by %d:%d, want %d:%d", img.Name, e.Path, e.UID, e.GID, uid, gid)
	}
}

// checkAbsent checks that path is not in the flattened image.
func checkAbsent(t *testing.T, img *testutil.Image, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if e, ok := img.FS[p]; ok {
			t.Errorf("%s: %s exists but should not: %s", img.Name, p, e)
		}
	}
}

// content returns the content of a small regular file, "" (with an error)
// when it is missing.
func content(t *testing.T, img *testutil.Image, path string) string {
	t.Helper()
	e, ok := img.FS[path]
	if !ok || e.Type != tar.TypeReg {
		t.Errorf("%s: %s is not a regular file in the image", img.Name, path)
		return ""
	}
	return string(e.Content)
}

// equal fails the test (not fatally) when got and want differ.
func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

// lastLayer returns the image's top layer.
func lastLayer(t *testing.T, img *testutil.Image) testutil.Layer {
	t.Helper()
	if len(img.Layers) == 0 {
		t.Fatalf("%s has no layers", img.Name)
	}
	return img.Layers[len(img.Layers)-1]
}

// nonDirPaths returns the sorted paths of a layer's entries that are not
// directories.
func nonDirPaths(l testutil.Layer) []string {
	var out []string
	for _, e := range l.Entries {
		if e.Type != tar.TypeDir {
			out = append(out, e.Path)
		}
	}
	sort.Strings(out)
	return out
}

// checkBuildFails checks that res is a failed build (exit 1) whose last
// stderr line is "ERROR: ..." naming Dockerfile:line and containing each of
// the wants (case-insensitively).
func checkBuildFails(t *testing.T, res testutil.Result, line int, wants ...string) {
	t.Helper()
	if res.Code != 1 {
		t.Errorf("exit code %d, want 1\n%s", res.Code, res)
		return
	}
	last := res.LastLine()
	if !strings.HasPrefix(last, "ERROR: ") {
		t.Errorf("last stderr line %q does not start with \"ERROR: \"\n%s", last, res.Stderr)
	}
	if loc := fmt.Sprintf("Dockerfile:%d", line); !containsLocation(last, loc) {
		t.Errorf("last stderr line %q does not name %s", last, loc)
	}
	for _, w := range wants {
		if !strings.Contains(strings.ToLower(last), strings.ToLower(w)) {
			t.Errorf("last stderr line %q does not contain %q", last, w)
		}
	}
}

// containsLocation reports whether s contains loc ("Dockerfile:3") not
// followed by another digit (so Dockerfile:3 does not match Dockerfile:31).
func containsLocation(s, loc string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], loc)
		if j < 0 {
			return false
		}
		end := i + j + len(loc)
		if end == len(s) || s[end] < '0' || s[end] > '9' {
			return true
		}
		i = end
	}
}

// lineOf returns the 1-based number of the first line of the case's
// Dockerfile whose trimmed text is exactly text.
func lineOf(t *testing.T, dockerfile, text string) int {
	t.Helper()
	data, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(l) == text {
			return i + 1
		}
	}
	t.Fatalf("%s has no line %q", dockerfile, text)
	return 0
}
