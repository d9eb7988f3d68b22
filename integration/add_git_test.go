package integration

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// gitServe makes a repository with one commit tagged v1 and serves it with
// git daemon on 127.0.0.1; it returns the repository URL and a function
// that adds a commit.
func gitServe(t *testing.T) (string, func(file, content string)) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is not installed")
	}
	base := t.TempDir()
	repo := filepath.Join(base, "repo")
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.email=t@example.com", "-c", "user.name=t"}, args...)...)
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	must(t, os.MkdirAll(filepath.Join(repo, "sub"), 0o755))
	must(t, os.WriteFile(filepath.Join(repo, "sub", "a.txt"), []byte("hello\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(repo, "top.txt"), []byte("top\n"), 0o644))
	run("init", "-q", "-b", "main")
	run("add", ".")
	run("commit", "-qm", "one")
	run("tag", "v1")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	d := exec.Command("git", "daemon", "--reuseaddr", "--listen=127.0.0.1", fmt.Sprintf("--port=%d", port), "--export-all", "--base-path="+base, base)
	must(t, d.Start())
	t.Cleanup(func() { d.Process.Kill(); d.Wait() })
	url := fmt.Sprintf("git://127.0.0.1:%d/repo", port)
	for i := 0; i < 50; i++ {
		if exec.Command("git", "ls-remote", url).Run() == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	commit := func(file, content string) {
		must(t, os.WriteFile(filepath.Join(repo, file), []byte(content), 0o644))
		run("add", ".")
		run("commit", "-qm", "more")
	}
	return url, commit
}

// ADD of a git repository copies the checkout at a branch, tag or commit
// (or one subdirectory), without .git unless --keep-git-dir; the cache key
// follows the commit the ref points to.
func TestAddGitRepository(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	url, commit := gitServe(t)
	dir := writeDockerfile(t, "FROM xbuild-test/busybox\n"+
		"ADD "+url+"#v1 /src\n"+
		"ADD "+url+"#main:sub /sub/\n"+
		"ADD --keep-git-dir=true "+url+" /kept\n")
	img, _ := build(t, r, dir, "xbuild-test/add-git")
	checkFile(t, img, "/src/top.txt", "top\n", 0o644, 0, 0)
	checkFile(t, img, "/src/sub/a.txt", "hello\n", 0o644, 0, 0)
	checkDir(t, img, "/src", 0o755, 0, 0)
	checkFile(t, img, "/sub/a.txt", "hello\n", 0o644, 0, 0)
	checkAbsent(t, img, "/src/.git", "/sub/top.txt")
	if !img.Has("/kept/.git/HEAD") {
		t.Error("--keep-git-dir=true dropped .git")
	}
	_, p := build(t, r, dir, "xbuild-test/add-git")
	adds := 0
	for _, st := range p.Steps {
		if strings.HasPrefix(st.Instr, "ADD") {
			adds++
			if !st.Cached {
				t.Errorf("unchanged repository: step %q not cached", st.Instr)
			}
		}
	}
	equal(t, "ADD steps in the rebuild", adds, 3)
	commit("top.txt", "top v2\n")
	img, _ = build(t, r, dir, "xbuild-test/add-git")
	checkFile(t, img, "/src/top.txt", "top\n", 0o644, 0, 0) // the tag did not move
	checkFile(t, img, "/kept/top.txt", "top v2\n", 0o644, 0, 0)
}
