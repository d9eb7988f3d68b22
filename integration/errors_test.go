package integration

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xbuild/xbuild/internal/testutil"
)

// badCases are Dockerfiles that must fail: the line (its exact text) the
// error must name, and what the error line must contain.
var badCases = []struct {
	name  string
	line  string
	wants []string
	setup func(t *testing.T, dir string)
}{
	{name: "bad-from-empty", line: "FROM", wants: []string{"FROM"}},
	{name: "bad-env-novalue", line: "ENV ONLYKEY", wants: []string{"ENV"}},
	{name: "bad-copy-onearg", line: "COPY onlyone", wants: []string{"COPY"}},
	{name: "bad-unknown-instruction", line: "FOO bar", wants: []string{"unknown instruction", "FOO"}},
	{name: "bad-copy-missing", line: "COPY missing.txt /", wants: []string{"missing.txt"}},
	{
		name: "bad-copy-outside", line: "COPY ../outside /", wants: []string{"outside"},
		setup: func(t *testing.T, dir string) {
			must(t, os.WriteFile(filepath.Join(filepath.Dir(dir), "outside"), []byte("outside the context\n"), 0o644))
		},
	},
	{name: "bad-from-nosuch", line: "FROM xbuild-test/no-such-image-3d1f9c", wants: []string{"no-such-image-3d1f9c"}},
	{name: "bad-copy-from-nosuch", line: "COPY --from=xbuild-test/no-such-stage-7b2e /x /x", wants: []string{"no-such-stage-7b2e"}},
	{
		name: "bad-run-exit", line: `RUN echo first-output-line && echo "last-line-$((40+2))" && exit 3`,
		wants: []string{"exit 3", "did not complete successfully", "exit code: 3"},
	},
}

// TestBadInput builds each bad case in one state dir: each fails with exit
// code 1 and an "ERROR: ... Dockerfile:N ..." last line, tags nothing, and
// leaves the state dir working (a good build and `images` succeed after it).
func TestBadInput(t *testing.T) {
	t.Parallel()
	r := isolatedRoot(t)
	good := prepareCase(t, "good")
	for _, c := range badCases {
		t.Run(c.name, func(t *testing.T) {
			dir := prepareCase(t, c.name)
			if c.setup != nil {
				c.setup(t, dir)
			}
			tag := "xbuild-test/" + c.name
			_, res := r.Build(t, dir, "-t", tag)
			checkBuildFails(t, res, lineOf(t, filepath.Join(dir, "Dockerfile"), c.line), c.wants...)
			if c.name == "bad-run-exit" {
				checkRunFailureOutput(t, res)
			}
			if res := r.Run(t, "inspect", tag); res.Code == 0 {
				t.Errorf("the failed build tagged %s:\n%s", tag, res.Stdout)
			}

			r.MustBuild(t, good, "-t", "xbuild-test/good", "--no-cache")
			images := r.MustRun(t, "images")
			if !strings.Contains(images.Stdout, "xbuild-test/good") {
				t.Errorf("`images` does not list xbuild-test/good:\n%s", images.Stdout)
			}
			if strings.Contains(images.Stdout, "xbuild-test/bad-") {
				t.Errorf("`images` lists an image of a failed build:\n%s", images.Stdout)
			}
		})
	}
}

// checkRunFailureOutput checks that a failed RUN's step shows its output
// and an error, and that the error report after the progress repeats the
// last output line.
func checkRunFailureOutput(t *testing.T, res testutil.Result) {
	t.Helper()
	const last = "last-line-42"
	p := ParseProgress(res.Stderr)
	if found := p.Find("exit 3"); len(found) != 1 || found[0].Error == "" || !slices.Contains(found[0].Logs, last) {
		t.Errorf("the failing RUN step lacks its output %q or its \"#N ERROR\" line:\n%s", last, res.Stderr)
	}
	inReport := false
	for _, line := range strings.Split(res.Stderr, "\n") {
		if !strings.HasPrefix(line, "#") && strings.Contains(line, last) {
			inReport = true
		}
	}
	if !inReport {
		t.Errorf("the error report does not repeat the RUN's last output line %q:\n%s", last, res.Stderr)
	}
}

// TestBadUsage checks that wrong command lines exit with code 2.
func TestBadUsage(t *testing.T) {
	t.Parallel()
	r := testutil.NewRoot(t)
	ctxDir := prepareCase(t, "good")
	for _, c := range []struct {
		args    []string
		mention string
	}{
		{[]string{"build", "--nosuchflag", ctxDir}, "nosuchflag"},
		{[]string{"build", "-t", "x", "--progress", "bogus", ctxDir}, "bogus"},
		{[]string{"build", "-t", "x"}, ""},
		{[]string{"inspect"}, ""},
	} {
		res := r.Run(t, c.args...)
		if res.Code != 2 {
			t.Errorf("exit code %d, want 2 (bad usage)\n%s", res.Code, res)
		}
		if !strings.Contains(res.Stderr, c.mention) || strings.TrimSpace(res.Stderr) == "" {
			t.Errorf("stderr does not explain the problem (want it to mention %q):\n%s", c.mention, res)
		}
	}
}
