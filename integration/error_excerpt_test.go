package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A failed build shows the failing line with its neighbours and a ">>>"
// marker above the one-line error, as BuildKit does.
func TestErrorExcerpt(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM xbuild-test/busybox\nRUN true\nRUN exit 7\nCMD [\"sh\"]\n"), 0o644))
	_, res := r.Build(t, dir, "-t", "xbuild-test/excerpt")
	checkBuildFails(t, res, 3, "exit code: 7")
	want := "Dockerfile:3\n--------------------\n   2 |     RUN true\n   3 | >>> RUN exit 7\n   4 |     CMD [\"sh\"]\n--------------------\nERROR: "
	if !strings.Contains(res.Stderr, want) {
		t.Errorf("stderr lacks the excerpt %q:\n%s", want, res.Stderr)
	}
}
