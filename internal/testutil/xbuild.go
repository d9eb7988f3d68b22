package testutil

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xbuild/xbuild/state"
)

// CommandTimeout bounds every xbuild command a test runs.
const CommandTimeout = 3 * time.Minute

// BaseImage is the name of the test base image that BuildBase builds from
// testdata/dockerfiles/busybox. Test Dockerfiles start FROM it.
const BaseImage = "xbuild-test/busybox"

// slots bounds how many xbuild commands the tests of one process run at
// once ($XBUILD_TEST_JOBS, default 4): builds are CPU and disk heavy.
var slots = make(chan struct{}, jobs())

func jobs() int {
	if n, err := strconv.Atoi(os.Getenv("XBUILD_TEST_JOBS")); err == nil && n > 0 {
		return n
	}
	return 4
}

// AcquireSlot blocks until fewer than $XBUILD_TEST_JOBS xbuild commands run
// and returns the function that gives the slot back. Run takes a slot by
// itself; tests that start xbuild through Command take one by hand.
func AcquireSlot() (release func()) {
	slots <- struct{}{}
	return func() { <-slots }
}

// Bin returns the xbuild binary under test: $XBUILD_BIN, else bin/xbuild
// under the repository root (built by `make build`). It fails the test when
// the binary is missing.
func Bin(t testing.TB) string {
	t.Helper()
	p := os.Getenv("XBUILD_BIN")
	if p == "" {
		p = filepath.Join(RepoRoot(t), "bin", "xbuild")
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("xbuild binary not found at %s: run `make build` (or set XBUILD_BIN)", p)
	}
	return p
}

// Result is what one xbuild command did.
type Result struct {
	Args   []string
	Stdout string
	Stderr string
	// Code is the exit code; -1 when the process did not exit normally
	// (killed, timed out, could not start; see Err).
	Code int
	Err  error
}

// LastLine returns the last non-empty line of stderr.
func (r Result) LastLine() string {
	lines := strings.Split(strings.TrimRight(r.Stderr, "\n"), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.TrimSpace(lines[i]) != "" {
			return lines[i]
		}
	}
	return ""
}

// String describes the command and its outcome for failure messages.
func (r Result) String() string {
	return fmt.Sprintf("xbuild %s\nexit code %d (err %v)\n--- stdout ---\n%s\n--- stderr ---\n%s",
		strings.Join(r.Args, " "), r.Code, r.Err, r.Stdout, r.Stderr)
}

// Root is one xbuild state directory (--root) and the binary that uses it.
type Root struct {
	Dir string
	Bin string
	// TolerateMounts makes the cleanup only log, not fail, when mounts are
	// left under Dir (used after a build was SIGKILLed on purpose).
	TolerateMounts bool
}

// NewRoot makes an empty state directory for one test and removes it when
// the test ends. Leftover mounts under it fail the test: a user could not
// delete the directory. It skips the test when not run as root.
func NewRoot(t testing.TB) *Root {
	t.Helper()
	RequireRoot(t)
	bin := Bin(t)
	dir, err := os.MkdirTemp("", "xbuild-root-")
	if err != nil {
		t.Fatal(err)
	}
	r := &Root{Dir: dir, Bin: bin}
	t.Cleanup(func() {
		if err := CleanupRoot(dir); err != nil {
			if r.TolerateMounts {
				t.Logf("cleanup of %s: %v", dir, err)
			} else {
				t.Errorf("cleanup of %s: %v", dir, err)
			}
		}
	})
	return r
}

// CleanupRoot removes a state directory. When mounts are left under it, it
// detaches them so the directory can go, and reports them in the error.
func CleanupRoot(dir string) error {
	var errs []error
	if mounts := MountsUnder(dir); len(mounts) > 0 {
		errs = append(errs, fmt.Errorf("mounts left under the state dir: %s", strings.Join(mounts, ", ")))
		for i := len(mounts) - 1; i >= 0; i-- {
			_ = syscall.Unmount(mounts[i], syscall.MNT_DETACH)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, fmt.Errorf("remove state dir: %w", err))
	}
	return errors.Join(errs...)
}

// MountsUnder lists the mount points at or below dir in this mount
// namespace, in mount order.
func MountsUnder(dir string) []string { return state.MountsUnder(dir) }

// Command returns an unstarted `xbuild --root DIR args...` with no stdin.
// The caller owns the process (and should hold a slot, see AcquireSlot).
func (r *Root) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, r.Bin, append([]string{"--root", r.Dir}, args...)...)
	cmd.Stdin = nil
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// Run runs `xbuild --root DIR args...` to completion (at most
// CommandTimeout) and returns what it did. It never fails the test.
func (r *Root) Run(t testing.TB, args ...string) Result {
	t.Helper()
	release := AcquireSlot()
	defer release()
	ctx, cancel := context.WithTimeout(t.Context(), CommandTimeout)
	defer cancel()
	cmd := r.Command(ctx, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	res := Result{Args: args, Stdout: stdout.String(), Stderr: stderr.String(), Code: -1, Err: err}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		res.Code = 0
	case errors.As(err, &exitErr) && exitErr.Exited():
		res.Code = exitErr.ExitCode()
		res.Err = nil
	}
	if ctx.Err() != nil {
		res.Err = fmt.Errorf("xbuild %s: %w", strings.Join(args, " "), ctx.Err())
	}
	t.Logf("xbuild %s: exit %d in %s", strings.Join(args, " "), res.Code, time.Since(start).Round(time.Millisecond))
	return res
}

// MustRun is Run that fails the test unless the command exits 0.
func (r *Root) MustRun(t testing.TB, args ...string) Result {
	t.Helper()
	res := r.Run(t, args...)
	if res.Code != 0 {
		t.Fatalf("command failed:\n%s", res)
	}
	return res
}

// Build runs `xbuild build --progress plain --iidfile F args... CTX` and
// returns the image ID from the iidfile ("" when the build failed) and the
// result, whose Stderr is the plain progress. It never fails the test.
func (r *Root) Build(t testing.TB, ctxDir string, args ...string) (string, Result) {
	t.Helper()
	iid := filepath.Join(t.TempDir(), "iid")
	full := append([]string{"build", "--progress", "plain", "--iidfile", iid}, args...)
	res := r.Run(t, append(full, ctxDir)...)
	if res.Code != 0 {
		return "", res
	}
	data, err := os.ReadFile(iid)
	if err != nil {
		t.Errorf("build succeeded but --iidfile was not written: %v", err)
		return "", res
	}
	return strings.TrimSpace(string(data)), res
}

// MustBuild is Build that fails the test unless the build succeeds with a
// well-formed image ID, which it returns.
func (r *Root) MustBuild(t testing.TB, ctxDir string, args ...string) string {
	t.Helper()
	id, res := r.Build(t, ctxDir, args...)
	if res.Code != 0 {
		t.Fatalf("build failed:\n%s", res)
	}
	if !IsImageID(id) {
		t.Fatalf("--iidfile holds %q, want sha256:<64 hex>", id)
	}
	return id
}

// IsImageID reports whether s is "sha256:" and 64 lowercase hex digits.
func IsImageID(s string) bool {
	hex, ok := strings.CutPrefix(s, "sha256:")
	if !ok || len(hex) != 64 {
		return false
	}
	for _, c := range hex {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Inspect runs `xbuild inspect NAME` and parses its one-element JSON array.
func (r *Root) Inspect(t testing.TB, name string) ImageInfo {
	t.Helper()
	res := r.MustRun(t, "inspect", name)
	var infos []ImageInfo
	if err := json.Unmarshal([]byte(res.Stdout), &infos); err != nil {
		t.Fatalf("inspect %s: output is not a JSON array of images: %v\n%s", name, err, res.Stdout)
	}
	if len(infos) != 1 {
		t.Fatalf("inspect %s: got %d objects, want 1", name, len(infos))
	}
	return infos[0]
}

// HistoryRow is one line of `xbuild history --format json`.
type HistoryRow struct {
	ID           string
	CreatedAt    string
	CreatedSince string
	CreatedBy    string
	Size         string
	Comment      string
}

// History runs `xbuild history --no-trunc --human=false --format json NAME
// [extra...]` and parses one JSON object per line (newest first).
func (r *Root) History(t testing.TB, name string, extra ...string) []HistoryRow {
	t.Helper()
	args := append([]string{"history", "--no-trunc", "--human=false", "--format", "json"}, extra...)
	res := r.MustRun(t, append(args, name)...)
	var rows []HistoryRow
	for _, line := range strings.Split(res.Stdout, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var row HistoryRow
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatalf("history --format json: line %q is not a JSON object: %v", line, err)
		}
		rows = append(rows, row)
	}
	return rows
}

// BuildBase builds the test base image (BaseImage) into r from
// testdata/dockerfiles/busybox plus the static busybox binary, and returns
// its image ID.
func BuildBase(t testing.TB, r *Root) string {
	t.Helper()
	ctxDir := t.TempDir()
	CopyDir(t, filepath.Join(RepoRoot(t), "testdata", "dockerfiles", "busybox"), ctxDir)
	CopyFile(t, Busybox(t), filepath.Join(ctxDir, "busybox"), 0o755)
	return r.MustBuild(t, ctxDir, "-t", BaseImage)
}

// CopyDir copies the tree at src into dst (created if needed), keeping
// regular files' contents and permission bits, directories and symlinks.
func CopyDir(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case fi.IsDir():
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			return os.Chmod(target, fi.Mode().Perm())
		case fi.Mode().IsRegular():
			return copyFile(p, target, fi.Mode().Perm())
		default:
			return fmt.Errorf("%s: unsupported file type %s", p, fi.Mode().Type())
		}
	})
	if err != nil {
		t.Fatalf("copy %s to %s: %v", src, dst, err)
	}
}

// CopyFile copies one regular file and sets its permission bits.
func CopyFile(t testing.TB, src, dst string, perm os.FileMode) {
	t.Helper()
	if err := copyFile(src, dst, perm); err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
}

func copyFile(src, dst string, perm os.FileMode) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	if _, err := io.Copy(out, in); err != nil {
		return err
	}
	return os.Chmod(dst, perm)
}
