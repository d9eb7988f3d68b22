package integration

// Dockerfile reference cases (testdata/dockerfiles/ref-*): CMD and
// ENTRYPOINT combinations, multi-stage builds, ONBUILD, per-Dockerfile
// .dockerignore, COPY/ADD edge cases and errors, checked against what
// BuildKit produces.

import (
	"os"
	"path/filepath"
	"testing"
)

// runOutput runs the image with its own ENTRYPOINT and CMD and returns
// stdout.
func runOutput(t *testing.T, name string) string {
	t.Helper()
	return sharedRoot(t).MustRun(t, "run", "--rm", name).Stdout
}

func TestReferenceEntrypointResetsCmd(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "ref-entrypoint-resets-cmd")
	equal(t, "Config.Entrypoint", img.Config.Config.Entrypoint, []string{"echo", "ep"})
	equal(t, "Config.Cmd", img.Config.Config.Cmd, []string(nil))
	equal(t, "run output", runOutput(t, img.Name), "ep\n")
	checkHistory(t, img, baseHistory, meta(`ENTRYPOINT ["echo" "ep"]`))
}

func TestReferenceCmdAfterEntrypoint(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "ref-cmd-after-entrypoint")
	equal(t, "Config.Entrypoint", img.Config.Config.Entrypoint, []string{"echo", "ep"})
	equal(t, "Config.Cmd", img.Config.Config.Cmd, []string{"arg1", "arg2"})
	equal(t, "run output", runOutput(t, img.Name), "ep arg1 arg2\n")
}

func TestReferenceCmdBeforeEntrypoint(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "ref-cmd-before-entrypoint")
	equal(t, "Config.Entrypoint", img.Config.Config.Entrypoint, []string{"echo", "ep"})
	equal(t, "Config.Cmd", img.Config.Config.Cmd, []string{"arg"})
	equal(t, "run output", runOutput(t, img.Name), "ep arg\n")
}

func TestReferenceCmdNotJSON(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "ref-cmd-not-json")
	equal(t, "Config.Cmd", img.Config.Config.Cmd, []string{"/bin/sh", "-c", "[not json]"})
	checkHistory(t, img, baseHistory, meta(`CMD ["/bin/sh" "-c" "[not json]"]`))
}

func TestReferenceEntrypointShellIgnoresCmd(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "ref-entrypoint-shell-ignores-cmd")
	equal(t, "Config.Entrypoint", img.Config.Config.Entrypoint, []string{"/bin/sh", "-c", "echo shell-ep"})
	equal(t, "Config.Cmd", img.Config.Config.Cmd, []string{"ignored"})
	equal(t, "run output", runOutput(t, img.Name), "shell-ep\n")
}

func TestReferenceCopyFromIndex(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "ref-copy-from-index")
	checkFile(t, img, "/from-zero.txt", "stage-zero\n", 0o644, 0, 0)
	checkAbsent(t, img, "/zero.txt")
	checkHistory(t, img, baseHistory, layer("COPY /zero.txt /from-zero.txt # buildkit"))
}

func TestReferenceCopyFromImage(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "ref-copy-from-image")
	base := r.Inspect(t, "xbuild-test/busybox")
	_ = base
	if e, ok := img.FS["/passwd-copy"]; !ok || e.Mode != 0o644 {
		t.Errorf("/passwd-copy: %v (present %v), want a 0644 file", e, ok)
	}
	equal(t, "paths", nonDirPaths(lastLayer(t, img)), []string{"/passwd-copy"})
	checkHistory(t, img, 0, layer("COPY /etc/passwd /passwd-copy # buildkit"))
}

func TestReferenceUnusedFailingStage(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, prog := buildCase(t, r, "ref-unused-failing-stage")
	checkFile(t, img, "/ok.txt", "ok\n", 0o644, 0, 0)
	if s := prog.Find("exit 3"); len(s) != 0 {
		t.Errorf("the unused stage's RUN was run: %v", s)
	}
}

func TestReferenceThreeStages(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "ref-three-stages")
	checkFile(t, img, "/out/alpha.txt", "alpha\n", 0o644, 0, 0)
	checkFile(t, img, "/out/beta.txt", "beta\n", 0o644, 0, 0)
	checkAbsent(t, img, "/alpha.txt", "/beta.txt")
	checkHistory(t, img, baseHistory,
		layer("COPY /alpha.txt /out/ # buildkit"),
		layer("COPY /beta.txt /out/ # buildkit"),
	)
}

func TestReferenceStageNameCase(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "ref-stage-name-case")
	checkFile(t, img, "/built.txt", "built\n", 0o644, 0, 0)
	checkFile(t, img, "/second.txt", "second\n", 0o644, 0, 0)
}

func TestReferenceOnbuildCopy(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	parent, _ := buildCase(t, r, "ref-onbuild-copy-parent")
	equal(t, "parent Config.OnBuild", parent.Config.Config.OnBuild, []string{"COPY child.txt /from-child-context.txt"})
	child, _ := buildCase(t, r, "ref-onbuild-copy-child")
	checkFile(t, child, "/from-child-context.txt", "child context\n", 0o644, 0, 0)
	checkFile(t, child, "/seen.txt", "child context\n", 0o644, 0, 0)
	equal(t, "child Config.OnBuild", child.Config.Config.OnBuild, []string(nil))
	checkHistory(t, child, baseHistory,
		layer("COPY child.txt /from-child-context.txt # buildkit"),
		layer("RUN /bin/sh -c cat /from-child-context.txt > /seen.txt # buildkit"),
	)
}

func TestReferenceDockerfileDockerignore(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	dir := prepareCase(t, "ref-dockerfile-dockerignore")
	img, _ := build(t, r, dir, "xbuild-test/ref-dockerfile-dockerignore", "-f", filepath.Join(dir, "app.Dockerfile"))
	checkAbsent(t, img, "/ctx/a.txt")
	checkFile(t, img, "/ctx/b.txt", "b\n", 0o644, 0, 0)
}

func TestReferenceCopyNames(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "ref-copy-names")
	checkFile(t, img, "/dst/with space.txt", "space\n", 0o644, 0, 0)
	checkFile(t, img, "/dst/ünïcødé.txt", "unicode\n", 0o644, 0, 0)
}

func TestReferenceCopyEmptyDir(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	dir := prepareCase(t, "ref-copy-empty-dir")
	must(t, os.Mkdir(filepath.Join(dir, "empty"), 0o755))
	img, _ := build(t, r, dir, "xbuild-test/ref-copy-empty-dir")
	checkDir(t, img, "/empty-copy", 0o755, 0, 0)
	equal(t, "children", img.Children("/empty-copy"), []string(nil))
}

func TestReferenceCopyToRoot(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "ref-copy-to-root")
	checkFile(t, img, "/root.txt", "root\n", 0o644, 0, 0)
	checkFile(t, img, "/indir.txt", "indir\n", 0o644, 0, 0)
	checkAbsent(t, img, "/dir")
}

func TestReferenceCopyRename(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "ref-copy-rename")
	checkFile(t, img, "/renamed", "src\n", 0o644, 0, 0)
	checkFile(t, img, "/newdir/renamed.txt", "src\n", 0o644, 0, 0)
}

func TestReferenceCopyMerge(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "ref-copy-merge")
	checkFile(t, img, "/merge/old.txt", "old\n", 0o644, 0, 0)
	checkFile(t, img, "/merge/same.txt", "replaced\n", 0o644, 0, 0)
	checkFile(t, img, "/merge/new.txt", "new\n", 0o644, 0, 0)
}

func TestReferenceAddTarBz2(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "ref-add-tar-bz2")
	checkFile(t, img, "/bz2/d/bz.txt", "bz\n", 0o644, 0, 0)
	checkFile(t, img, "/plain/p/plain.txt", "plain\n", 0o644, 0, 0)
	checkAbsent(t, img, "/bz2/archive.tar.bz2", "/plain/plain.tar")
}

func TestReferenceCopyLink(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "ref-copy-link")
	checkFile(t, img, "/linked/f.txt", "link\n", 0o644, 0, 0)
	checkFile(t, img, "/plain/f.txt", "link\n", 0o644, 0, 0)
	checkHistory(t, img, baseHistory,
		layer("COPY f.txt /linked/f.txt # buildkit"),
		layer("COPY f.txt /plain/f.txt # buildkit"),
	)
}

func TestReferenceWorkdirRelative(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "ref-workdir-relative")
	equal(t, "Config.WorkingDir", img.Config.Config.WorkingDir, "/a/b/c")
	checkFile(t, img, "/pwd.txt", "/a/b/c\n", 0o644, 0, 0)
}

// failCase builds a ref-bad-* case and checks the error names the line
// and each of wants.
func failCase(t *testing.T, name, line string, wants ...string) {
	t.Helper()
	r := sharedRoot(t)
	dir := prepareCase(t, name)
	_, res := r.Build(t, dir, "-t", "xbuild-test/"+name)
	checkBuildFails(t, res, lineOf(t, filepath.Join(dir, "Dockerfile"), line), wants...)
}

func TestReferenceBadCopyFromSelf(t *testing.T) {
	t.Parallel()
	// BuildKit says "circular dependency detected on stage: self"
	// (dockerfile2llb/validations.go); xbuild fails on the same line with
	// its own wording, so only the stage name is checked.
	failCase(t, "ref-bad-copy-from-self", "COPY --from=self /etc/passwd /x", "self")
}

func TestReferenceBadFromUnset(t *testing.T) {
	t.Parallel()
	failCase(t, "ref-bad-from-unset", "FROM $UNSET", "base name ($UNSET) should not be blank")
}

func TestReferenceBadRunFlag(t *testing.T) {
	t.Parallel()
	failCase(t, "ref-bad-run-flag", "RUN --networks=none true", "unknown flag: --networks", "did you mean network?")
}

func TestReferenceBadExpose(t *testing.T) {
	t.Parallel()
	failCase(t, "ref-bad-expose", "EXPOSE abc", "invalid containerPort: abc")
}
