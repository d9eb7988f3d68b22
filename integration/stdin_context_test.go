package integration

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// `xbuild build -` reads the context as a tar (here gzip-compressed) from
// standard input, or, when stdin is not a tar, a Dockerfile with an empty
// context, as `docker build -` does.
func TestContextFromStdin(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	src := t.TempDir()
	must(t, os.WriteFile(filepath.Join(src, "Dockerfile"), []byte("FROM xbuild-test/busybox\nCOPY a.txt /a.txt\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(src, "a.txt"), []byte("from the tar\n"), 0o644))
	tgz, err := exec.Command("tar", "-C", src, "-czf", "-", ".").Output()
	must(t, err)
	buildStdin := func(name string, stdin []byte) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := r.Command(ctx, "build", "-q", "-t", name, "-")
		cmd.Stdin = bytes.NewReader(stdin)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("build %s from stdin: %v\n%s", name, err, stderr.String())
		}
	}
	buildStdin("xbuild-test/stdin-tar", tgz)
	equal(t, "file from the stdin context", r.MustRun(t, "run", "--rm", "xbuild-test/stdin-tar", "cat", "/a.txt").Stdout, "from the tar\n")

	buildStdin("xbuild-test/stdin-df", []byte("FROM xbuild-test/busybox\nRUN ls -A / > /root-list\n"))
	out := r.MustRun(t, "run", "--rm", "xbuild-test/stdin-df", "cat", "/root-list").Stdout
	if strings.Contains(out, "Dockerfile") {
		t.Errorf("a Dockerfile read from stdin leaked into the image: %q", out)
	}
	entries, _ := os.ReadDir(filepath.Join(r.Dir, "tmp"))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "stdin-context") {
			t.Errorf("a stdin context was left in tmp/: %s", e.Name())
		}
	}
}
