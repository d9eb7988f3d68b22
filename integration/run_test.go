package integration

import (
	"strings"
	"testing"

	"github.com/xbuild/xbuild/internal/testutil"
)

// runCase is one `xbuild run` and what it must print and exit with.
type runCase struct {
	args   []string // between "run --rm" and the end, image name included
	stdout string
	code   int
}

// checkRuns runs each case with `xbuild run --rm` and checks stdout and
// the exit code.
func checkRuns(t *testing.T, r *testutil.Root, cases []runCase) {
	t.Helper()
	for _, c := range cases {
		res := r.Run(t, append([]string{"run", "--rm"}, c.args...)...)
		if res.Code != c.code || res.Stdout != c.stdout {
			t.Errorf("xbuild run --rm %s: exit %d, stdout %q; want exit %d, stdout %q\nstderr:\n%s",
				strings.Join(c.args, " "), res.Code, res.Stdout, c.code, c.stdout, res.Stderr)
		}
	}
}

func TestRunCmdShellForm(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "cmd-shell")
	equal(t, "Config.Cmd", img.Config.Config.Cmd, []string{"/bin/sh", "-c", "echo cmd-shell-form; exit 7"})
	equal(t, "Config.Entrypoint", img.Config.Config.Entrypoint, []string(nil))
	checkHistory(t, img, baseHistory, meta(`CMD ["/bin/sh" "-c" "echo cmd-shell-form; exit 7"]`))
	checkRuns(t, r, []runCase{
		{args: []string{img.Name}, stdout: "cmd-shell-form\n", code: 7},
		{args: []string{img.Name, "echo", "overridden"}, stdout: "overridden\n", code: 0},
		{args: []string{img.Name, "false"}, stdout: "", code: 1},
	})
}

func TestRunEntrypointExecForm(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "entrypoint-exec")
	equal(t, "Config.Entrypoint", img.Config.Config.Entrypoint,
		[]string{"/bin/sh", "-c", `echo "args:$*"; echo to-stderr >&2; exit $CODE`, "ep"})
	equal(t, "Config.Cmd", img.Config.Config.Cmd, []string{"a", "b"})
	checkHistory(t, img, baseHistory,
		meta("ENV CODE=0"),
		metaPrefix(`ENTRYPOINT ["/bin/sh" "-c" `),
		meta(`CMD ["a" "b"]`),
	)

	// stdout and stderr of the container are xbuild's, kept apart.
	res := r.Run(t, "run", "--rm", img.Name)
	if res.Code != 0 || res.Stdout != "args:a b\n" || !strings.Contains(res.Stderr, "to-stderr") {
		t.Errorf("run with ENTRYPOINT+CMD: exit %d, stdout %q, stderr %q; want 0, %q, stderr with to-stderr",
			res.Code, res.Stdout, res.Stderr, "args:a b\n")
	}
	checkRuns(t, r, []runCase{
		{args: []string{img.Name, "x", "y"}, stdout: "args:x y\n"},
		{args: []string{"-e", "CODE=1", img.Name}, stdout: "args:a b\n", code: 1},
		{args: []string{"-e", "CODE=42", img.Name, "z"}, stdout: "args:z\n", code: 42},
		{args: []string{"--entrypoint", "/bin/echo", img.Name, "hello"}, stdout: "hello\n"},
		{args: []string{"-w", "/tmp", "--entrypoint", "pwd", img.Name}, stdout: "/tmp\n"},
		{args: []string{"-u", "app", "--entrypoint", "id", img.Name, "-un"}, stdout: "app\n"},
		{args: []string{"-u", "1000:50", "--entrypoint", "id", img.Name, "-g"}, stdout: "50\n"},
		{args: []string{"-e", "FOO=bar", "--entrypoint", "/bin/sh", img.Name, "-c", "echo $FOO $CODE"}, stdout: "bar 0\n"},
		{args: []string{"--entrypoint", "/bin/sh", img.Name, "-c", "exit 3"}, stdout: "", code: 3},
	})
}

func TestRunEntrypointShellForm(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "entrypoint-shell")
	equal(t, "Config.Entrypoint", img.Config.Config.Entrypoint, []string{"/bin/sh", "-c", "echo shell-entrypoint"})
	// ENTRYPOINT resets the CMD inherited from the base image.
	equal(t, "Config.Cmd", img.Config.Config.Cmd, []string(nil))
	checkHistory(t, img, baseHistory, meta(`ENTRYPOINT ["/bin/sh" "-c" "echo shell-entrypoint"]`))
	checkRuns(t, r, []runCase{
		{args: []string{img.Name}, stdout: "shell-entrypoint\n"},
		{args: []string{img.Name, "ignored"}, stdout: "shell-entrypoint\n"},
	})
}
