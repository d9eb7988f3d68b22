//go:build linux

package executor_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xbuild/xbuild/executor"
	"github.com/xbuild/xbuild/internal/testutil"
	"github.com/xbuild/xbuild/snapshot"
)

// rootfs is a busybox lower dir under an overlay with its own upper dir.
type rootfs struct {
	lower, upper string
	mounts       []snapshot.Mount
}

func newRootfs(t *testing.T) rootfs {
	t.Helper()
	testutil.RequireRoot(t)
	t.Parallel()
	lower := testutil.BusyboxRootfs(t)
	dir := t.TempDir()
	upper, work := filepath.Join(dir, "upper"), filepath.Join(dir, "work")
	for _, d := range []string{upper, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return rootfs{lower: lower, upper: upper, mounts: []snapshot.Mount{{
		Type: "overlay", Source: "overlay",
		Options: []string{"lowerdir=" + lower, "upperdir=" + upper, "workdir=" + work},
	}}}
}

// run runs p with a 30s limit, collecting its output, and checks that the
// sandbox left nothing in its tmp dir.
func (r rootfs) run(t *testing.T, p executor.Process, mounts ...executor.Mount) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return r.runCtx(ctx, t, p, mounts...)
}

func (r rootfs) runCtx(ctx context.Context, t *testing.T, p executor.Process, mounts ...executor.Mount) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if p.Stdout == nil {
		p.Stdout = &stdout
	}
	p.Stderr = &stderr
	tmp := t.TempDir()
	err := executor.New(tmp).Run(ctx, r.mounts, mounts, p)
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("sandbox left %v in its tmp dir", left)
	}
	return stdout.String(), stderr.String(), err
}

func sh(script string) []string { return []string{"sh", "-c", script} }

// upperEntries lists every path in the overlay upper dir.
func (r rootfs) upperEntries(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(r.upper, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != r.upper {
			rel, _ := filepath.Rel(r.upper, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkUpperClean asserts the upper dir holds only want (sorted) and that a
// copied-up /etc looks exactly as in the lower dir.
func (r rootfs) checkUpperClean(t *testing.T, want ...string) {
	t.Helper()
	got := r.upperEntries(t)
	got = slices.DeleteFunc(got, func(p string) bool { return p == "etc" })
	if !slices.Equal(got, want) {
		t.Errorf("upper dir holds %q, want %q", got, want)
	}
	up, err := os.Stat(filepath.Join(r.upper, "etc"))
	if err != nil {
		return
	}
	low, err := os.Stat(filepath.Join(r.lower, "etc"))
	if err != nil {
		t.Fatal(err)
	}
	if !up.ModTime().Equal(low.ModTime()) || up.Mode() != low.Mode() {
		t.Errorf("upper /etc is %v %v, lower %v %v", up.Mode(), up.ModTime(), low.Mode(), low.ModTime())
	}
}

func TestEcho(t *testing.T) {
	r := newRootfs(t)
	out, _, err := r.run(t, executor.Process{Args: []string{"echo", "hello"}})
	if err != nil || out != "hello\n" {
		t.Fatalf("got %q, %v; want \"hello\\n\"", out, err)
	}
	out, _, err = r.run(t, executor.Process{Args: []string{"cat"}}) // nil Stdin reads /dev/null
	if err != nil || out != "" {
		t.Fatalf("cat with no stdin: got %q, %v", out, err)
	}
}

func TestStdin(t *testing.T) {
	r := newRootfs(t)
	out, _, err := r.run(t, executor.Process{Args: []string{"cat"}, Stdin: strings.NewReader("from stdin")})
	if err != nil || out != "from stdin" {
		t.Fatalf("got %q, %v", out, err)
	}
}

func TestExitCode(t *testing.T) {
	r := newRootfs(t)
	_, _, err := r.run(t, executor.Process{Args: sh("echo oops >&2; exit 3")})
	var ee *executor.ExitError
	if !errors.As(err, &ee) || ee.Code != 3 || ee.Signal != 0 {
		t.Fatalf("got %v, want *ExitError{Code: 3}", err)
	}
	if err.Error() != "exit code: 3" {
		t.Errorf("message %q", err)
	}
	_, _, err = r.run(t, executor.Process{Args: sh("kill -9 $$")})
	if !errors.As(err, &ee) || ee.Code != 137 || ee.Signal != syscall.SIGKILL {
		t.Fatalf("got %v, want *ExitError{Code: 137, Signal: SIGKILL}", err)
	}
	if err.Error() != "killed by signal: killed" {
		t.Errorf("message %q", err)
	}
}

func TestMissingExecutable(t *testing.T) {
	r := newRootfs(t)
	for args, want := range map[string]string{
		"nonexist":      `exec: "nonexist": executable file not found in $PATH`,
		"/bin/nonexist": `exec: "/bin/nonexist": no such file or directory`,
	} {
		_, _, err := r.run(t, executor.Process{Args: []string{args}})
		var ee *executor.ExitError
		if err == nil || errors.As(err, &ee) || err.Error() != want {
			t.Errorf("%s: got %v, want plain error %q", args, err, want)
		}
	}
	r.checkUpperClean(t)
}

// A sandbox that fails to set up still removes the mount points it made.
func TestSetupErrorLeavesNoStubs(t *testing.T) {
	r := newRootfs(t)
	missing := filepath.Join(t.TempDir(), "missing")
	_, _, err := r.run(t, executor.Process{Args: []string{"true"}},
		executor.Mount{Target: "/mnt/m", Type: "bind", Source: missing})
	var ee *executor.ExitError
	if err == nil || errors.As(err, &ee) || !strings.Contains(err.Error(), missing) {
		t.Fatalf("got %v, want a plain error naming %s", err, missing)
	}
	r.checkUpperClean(t)
}

func TestStreamsOutput(t *testing.T) {
	r := newRootfs(t)
	w := &signalWriter{first: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-w.first:
		case <-time.After(10 * time.Second):
		}
		cancel()
	}()
	_, _, err := r.runCtx(ctx, t, executor.Process{Args: sh("echo first; sleep 30"), Stdout: w})
	select {
	case <-w.first:
	default:
		t.Fatal("no output arrived while the process ran")
	}
	if w.mountinfo == "" || strings.Contains(w.mountinfo, r.upper) {
		t.Errorf("host mount table while the sandbox ran:\n%s", w.mountinfo)
	}
	if !errors.Is(err, context.Canceled) || w.buf.String() != "first\n" {
		t.Fatalf("got %q, %v", w.buf.String(), err)
	}
}

// signalWriter closes first on its first write, after taking a copy of
// the host's mount table.
type signalWriter struct {
	buf       bytes.Buffer
	first     chan struct{}
	mountinfo string
}

func (w *signalWriter) Write(p []byte) (int, error) {
	if w.buf.Len() == 0 {
		b, _ := os.ReadFile("/proc/self/mountinfo")
		w.mountinfo = string(b)
		defer close(w.first)
	}
	return w.buf.Write(p)
}

func TestCwdAndDefaultEnv(t *testing.T) {
	r := newRootfs(t)
	out, _, err := r.run(t, executor.Process{
		Args: sh(`pwd; echo "$PATH"; echo "$HOME"; echo "$FOO"; stat -c '%u %a' /work/dir`),
		Env:  []string{"FOO=bar"}, Cwd: "/work/dir",
	})
	want := "/work/dir\n/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n/root\nbar\n0 755\n"
	if err != nil || out != want {
		t.Fatalf("got %q, %v; want %q", out, err, want)
	}
	r.checkUpperClean(t, "work", "work/dir")
}
