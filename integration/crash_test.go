package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xbuild/xbuild/internal/testutil"
)

// TestCrash SIGKILLs xbuild while a RUN step sleeps: the sandboxed process
// must die with it, and the state dir must keep working.
func TestCrash(t *testing.T) {
	t.Parallel()
	r := isolatedRoot(t)
	// Mounts a killed build leaves are reported, not failed: the point here
	// is that the next commands work.
	r.TolerateMounts = true
	dir := prepareCase(t, "crash")
	// A "sleep 30" the host already runs is none of this test's business.
	pre := map[int]bool{}
	for _, p := range sleepers(nil) {
		pre[p.pid] = true
	}

	release := testutil.AcquireSlot()
	ctx, cancel := context.WithTimeout(t.Context(), testutil.CommandTimeout)
	defer cancel()
	cmd := r.Command(ctx, "build", "--progress", "plain", "-t", "xbuild-test/crash", dir)
	var stderr syncBuffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Start(); err != nil {
		release()
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		release()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		for _, p := range sleepers(pre) {
			_ = syscall.Kill(p.pid, syscall.SIGKILL) // the test started it
		}
	})

	// Wait until the RUN step is running its sleep.
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(stderr.String(), "RUN echo started && sleep 30") || !hasSleep(sleepers(pre)) {
		select {
		case <-exited:
			t.Fatalf("the build ended before its RUN step was sleeping:\n%s", stderr.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no `sleep 30` process on the host 2 minutes into the build:\n%s", stderr.String())
		}
	}
	before := sleepers(pre)
	t.Logf("killing xbuild (pid %d) while running: %v", cmd.Process.Pid, before)
	must(t, syscall.Kill(cmd.Process.Pid, syscall.SIGKILL))
	<-exited

	var left []proc
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if left = sleepers(pre); len(left) == 0 {
			break
		}
	}
	if len(left) > 0 {
		t.Errorf("processes of the killed build's RUN are still running 5s after xbuild was killed: %v", left)
	}

	// The state dir still works.
	images := r.MustRun(t, "images")
	if strings.Contains(images.Stdout, "xbuild-test/crash") {
		t.Errorf("`images` lists the killed build's tag:\n%s", images.Stdout)
	}
	img, _ := buildCase(t, r, "good")
	checkFile(t, img, "/good.txt", "good\n", 0o644, 0, 0)
	images = r.MustRun(t, "images")
	if !strings.Contains(images.Stdout, "xbuild-test/good") {
		t.Errorf("`images` does not list xbuild-test/good after the crash:\n%s", images.Stdout)
	}
	r.Inspect(t, testutil.BaseImage)
}

// proc is a host process.
type proc struct {
	pid  int
	argv []string
}

func (p proc) String() string { return fmt.Sprintf("%d %q", p.pid, p.argv) }

// sleepers lists the host's processes whose command line contains
// "sleep 30" (the RUN's shell, the sleep itself, or a sandbox init that
// carries the command), except this test process and the pids in skip.
func sleepers(skip map[int]bool) []proc {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() || skip[pid] {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(data) == 0 {
			continue // gone, or a zombie
		}
		argv := strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
		if strings.Contains(strings.Join(argv, " "), "sleep 30") {
			out = append(out, proc{pid: pid, argv: argv})
		}
	}
	return out
}

// hasSleep reports whether one of ps is the sleep itself.
func hasSleep(ps []proc) bool {
	for _, p := range ps {
		if len(p.argv) == 2 && filepath.Base(p.argv[0]) == "sleep" && p.argv[1] == "30" {
			return true
		}
	}
	return false
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
