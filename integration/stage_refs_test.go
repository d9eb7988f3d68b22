package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeDockerfile(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(content), 0o644))
	return dir
}

// COPY --from may name a stage defined later (BuildKit registers every
// stage first); cycles and --from=$VAR fail with BuildKit's messages.
func TestCopyFromStageReferences(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	dir := writeDockerfile(t, "FROM xbuild-test/busybox AS final\nCOPY --from=later /a /a\nFROM xbuild-test/busybox AS later\nRUN echo later > /a\n")
	img, _ := build(t, r, dir, "xbuild-test/copy-from-later", "--target", "final")
	checkFile(t, img, "/a", "later\n", 0o644, 0, 0)

	_, res := r.Build(t, writeDockerfile(t, "FROM xbuild-test/busybox AS self\nCOPY --from=self /a /a\n"), "-t", "x1")
	checkBuildFails(t, res, 2, "circular dependency detected on stage: self")
	_, res = r.Build(t, writeDockerfile(t, "FROM xbuild-test/busybox AS a\nCOPY --from=b /x /x\nFROM xbuild-test/busybox AS b\nCOPY --from=a /y /y\n"), "-t", "x2")
	if res.Code != 1 || !strings.Contains(res.LastLine(), "circular dependency detected on stage") {
		t.Errorf("two-stage cycle: exit %d, %q", res.Code, res.LastLine())
	}
	_, res = r.Build(t, writeDockerfile(t, "ARG SRC=x\nFROM xbuild-test/busybox\nCOPY --from=$SRC /x /x\n"), "-t", "x3")
	checkBuildFails(t, res, 3, "variable expansion is not supported for --from")
}

func TestArgRedeclaredFallsBackToGlobal(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "arg-global-fallback")
	checkFile(t, img, "/args", "[global] [one]\n", 0o644, 0, 0)
}
