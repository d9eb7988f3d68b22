package integration

// More Dockerfile reference cases (testdata/dockerfiles/ref-*): ENV
// semantics, directive placement, CMD/ENTRYPOINT run output, wildcards
// and errors, checked against what BuildKit produces.

import (
	"strings"
	"testing"
)

func TestReferenceEnvSameInstruction(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "ref-env-same-instruction")
	equal(t, "Config.Env", img.Config.Config.Env, []string{defaultPath, "abc=bye", "def=hello", "ghi=bye", "LEGACY=some value"})
	checkHistory(t, img, baseHistory,
		meta("ENV abc=hello"),
		meta("ENV abc=bye def=hello"),
		meta("ENV ghi=bye"),
		meta("ENV LEGACY=some value"),
	)
}

func TestReferenceDirectiveAfterComment(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "ref-directive-after-comment")
	checkFile(t, img, "/continued.txt", "still backslash\n", 0o644, 0, 0)
}

func TestReferenceEntrypointExecCmdShell(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "ref-entrypoint-exec-cmd-shell")
	equal(t, "Config.Entrypoint", img.Config.Config.Entrypoint, []string{"echo"})
	equal(t, "Config.Cmd", img.Config.Config.Cmd, []string{"/bin/sh", "-c", "echo x"})
	equal(t, "run output", runOutput(t, img.Name), "/bin/sh -c echo x\n")
}

func TestReferenceShellFormsRun(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := build(t, r, prepareCase(t, "ref-shell-forms"), "xbuild-test/ref-shell-forms-run")
	// The shell-form ENTRYPOINT ignores CMD.
	equal(t, "run output", runOutput(t, img.Name), "ep\n")
}

func TestReferenceCopyWildcard(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "ref-copy-wildcard")
	checkFile(t, img, "/txt/a.txt", "a\n", 0o644, 0, 0)
	checkFile(t, img, "/txt/b.txt", "b\n", 0o644, 0, 0)
	checkFile(t, img, "/logs/file1.log", "1\n", 0o644, 0, 0)
	checkAbsent(t, img, "/txt/c.md", "/logs/file22.log")
	equal(t, "/txt children", img.Children("/txt"), []string{"a.txt", "b.txt"})
}

func TestReferenceBadCopyFromIndex(t *testing.T) {
	t.Parallel()
	// BuildKit returns this error from toCommand without a location
	// (dockerfile2llb/convert.go), so only the exit code and the text are
	// checked; xbuild may add the line.
	r := sharedRoot(t)
	_, res := r.Build(t, prepareCase(t, "ref-bad-copy-from-index"), "-t", "xbuild-test/ref-bad-copy-from-index")
	if res.Code != 1 || !strings.HasPrefix(res.LastLine(), "ERROR: ") || !strings.Contains(res.LastLine(), "invalid stage index 5") {
		t.Errorf("want exit 1 and an ERROR line with \"invalid stage index 5\":\n%s", res)
	}
}

func TestReferenceBadHealthcheckInterval(t *testing.T) {
	t.Parallel()
	failCase(t, "ref-bad-healthcheck-interval", "HEALTHCHECK --interval=1us CMD true",
		`Interval "interval" cannot be less than 1ms`)
}

func TestReferenceCopyChownExpansion(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "ref-copy-chown-expansion")
	checkFile(t, img, "/owned.txt", "owned\n", 0o640, 1000, 1000)
	checkHistory(t, img, baseHistory,
		meta("ARG OWNER=1000"),
		meta("ENV GRP=1000 MODE=0640"),
		layer("COPY --chown=1000:1000 --chmod=0640 f.txt /owned.txt # buildkit"),
	)
}

func TestReferenceEnvOverridesArg(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "ref-env-overrides-arg")
	checkFile(t, img, "/x.txt", "env\n", 0o644, 0, 0)
	equal(t, "Config.Env", img.Config.Config.Env, []string{defaultPath, "X=env"})
	checkHistory(t, img, baseHistory,
		meta("ARG X=arg"),
		meta("ENV X=env"),
		layer(`RUN |1 X=env /bin/sh -c echo "$X" > /x.txt # buildkit`),
	)
}

func TestReferenceBadShellNotJSON(t *testing.T) {
	t.Parallel()
	failCase(t, "ref-bad-shell-not-json", "SHELL /bin/sh -c", "SHELL requires the arguments to be in JSON form")
}

func TestReferenceBadOnbuildFrom(t *testing.T) {
	t.Parallel()
	failCase(t, "ref-bad-onbuild-from", "ONBUILD FROM xbuild-test/busybox", "FROM isn't allowed as an ONBUILD trigger")
}

func TestReferenceBadOnbuildOnbuild(t *testing.T) {
	t.Parallel()
	failCase(t, "ref-bad-onbuild-onbuild", "ONBUILD ONBUILD RUN true", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
}

func TestReferenceBadExpandRequired(t *testing.T) {
	t.Parallel()
	failCase(t, "ref-bad-expand-required", "ENV X=${REQUIRED:?unset-value}", "REQUIRED: unset-value")
}

func TestReferenceBadExpandModifier(t *testing.T) {
	t.Parallel()
	failCase(t, "ref-bad-expand-modifier", "ENV X=${V:#a}", "unsupported modifier (:#) in substitution")
}
