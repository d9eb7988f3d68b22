package integration

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCopySymlinks(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	dir := prepareCase(t, "copy-symlinks")
	host := t.TempDir()
	must(t, os.WriteFile(filepath.Join(host, "secret"), []byte("host secret\n"), 0o644))
	must(t, os.Symlink("real.txt", filepath.Join(dir, "link.txt")))
	must(t, os.Symlink("realdir", filepath.Join(dir, "linkdir")))
	must(t, os.Symlink(filepath.Join(host, "secret"), filepath.Join(dir, "evil")))
	must(t, os.Symlink(host, filepath.Join(dir, "hostdir")))
	must(t, os.Link(filepath.Join(dir, "hard", "one"), filepath.Join(dir, "hard", "two")))
	img, _ := build(t, r, dir, "xbuild-test/copy-symlinks")

	checkFile(t, img, "/a/link.txt", "real\n", 0o644, 0, 0)
	checkAbsent(t, img, "/a/real.txt")
	checkFile(t, img, "/d/inner.txt", "inner\n", 0o644, 0, 0)
	for p, e := range img.FS {
		if bytes.Contains(e.Content, []byte("host secret")) {
			t.Errorf("%s holds the content of a host file outside the context", p)
		}
	}
	checkFile(t, img, "/etc/real.conf", "new\n", 0o644, 0, 0)
	if e := img.File(t, "/etc/link.conf"); e.Type != tar.TypeSymlink || e.Linkname != "/etc/real.conf" {
		t.Errorf("/etc/link.conf = %v, want the symlink kept (COPY writes through it)", e)
	}
	top := lastLayer(t, img)
	one, ok1 := top.Find("/hard/one")
	two, ok2 := top.Find("/hard/two")
	if !ok1 || !ok2 || one.Type != tar.TypeReg || two.Type != tar.TypeLink || two.Linkname != "hard/one" {
		t.Errorf("hardlinked context files: one=%v two=%v, want a file and a hardlink to it", one, two)
	}
}

func TestCopyAllowList(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "copy-allowlist")
	checkFile(t, img, "/app/package.json", "{}\n", 0o644, 0, 0)
	checkFile(t, img, "/app/src/a.js", "a\n", 0o644, 0, 0)
	checkFile(t, img, "/app/src/lib/b.js", "b\n", 0o644, 0, 0)
	checkAbsent(t, img, "/app/junk", "/app/Dockerfile", "/app/.dockerignore")
}

func TestCopyIntoExistingDirectories(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	dir := prepareCase(t, "copy-into-existing")
	must(t, os.Chmod(filepath.Join(dir, "tree", "srv", "data"), 0o775))
	img, _ := build(t, r, dir, "xbuild-test/copy-into-existing")
	checkFile(t, img, "/etc/a.txt", "a\n", 0o644, 0, 0)
	checkFile(t, img, "/etc/b.txt", "b\n", 0o644, 0, 0)
	checkFile(t, img, "/work/a.txt", "a\n", 0o644, 0, 0)
	checkDir(t, img, "/srv/data", 0o775, 1000, 1000)
	checkFile(t, img, "/srv/data/f", "d\n", 0o644, 1000, 1000)
}

func TestCopyOntoSymlinkedDirectoryFails(t *testing.T) {
	t.Parallel()
	r := isolatedRoot(t)
	dir := prepareCase(t, "copy-merged-usr")
	_, res := r.Build(t, dir, "-t", "merged")
	checkBuildFails(t, res, 6, "cannot copy to non-directory: /lnk")
	if strings.Contains(res.LastLine(), r.Dir) {
		t.Errorf("error shows a host path: %s", res.LastLine())
	}
}

func TestCopyContextChangedDuringBuild(t *testing.T) {
	t.Parallel()
	r := isolatedRoot(t)
	dir := prepareCase(t, "copy-context-change")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := r.Command(ctx, "build", "--progress", "plain", "-t", "changing", dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	must(t, cmd.Start())
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(stderr.String(), "RUN sleep 3") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	must(t, os.WriteFile(filepath.Join(dir, "f"), []byte("new\n"), 0o644))
	err := cmd.Wait()
	if err == nil || !strings.Contains(stderr.String(), "build context changed") {
		t.Fatalf("build with a context file changed mid-build: err=%v\n%s", err, stderr.String())
	}
	// Back to the original content: the result must be the original file,
	// never the content copied during the failed build.
	must(t, os.WriteFile(filepath.Join(dir, "f"), []byte("old\n"), 0o644))
	img, _ := build(t, r, dir, "changing")
	checkFile(t, img, "/f", "old\n", 0o644, 0, 0)
}

func TestAddArchiveChown(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	dir := prepareCase(t, "add-archive-chown")
	writeTarGz(t, filepath.Join(dir, "arch.tar.gz"), map[string]string{"payload": "p\n", "sub/keep": "k\n"})
	img, _ := build(t, r, dir, "xbuild-test/add-archive-chown")
	checkFile(t, img, "/ex/payload", "p\n", 0o644, 1000, 1000)
	checkFile(t, img, "/ex/sub/keep", "k\n", 0o644, 1000, 1000)
}

// An archive entry named like a whiteout is extracted as a file, but no
// OCI layer can carry a file of that name (it would delete /etc/passwd in
// every runtime), so the step fails clearly instead of corrupting the image.
func TestAddArchiveWithWhiteoutNameFails(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM xbuild-test/busybox\nADD plain.tar.gz /etc/\n"), 0o644))
	writeTarGz(t, filepath.Join(dir, "plain.tar.gz"), map[string]string{".wh.passwd": "not a whiteout\n"})
	_, res := r.Build(t, dir, "-t", "xbuild-test/add-whiteout-name")
	checkBuildFails(t, res, 2, "etc/.wh.passwd", "reserved for whiteouts")
}

func TestNoopRunMakesEmptyLayer(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "run-noop")
	noop := img.Layers[len(img.Layers)-2]
	if len(noop.Entries) != 0 {
		t.Errorf("the layer of a RUN that changed nothing holds %v", noop.Paths())
	}
	equal(t, "no-op layer diffID", noop.DiffID, "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef")
	equal(t, "layer of touch /etc/x", nonDirPaths(lastLayer(t, img)), []string{"/etc/x"})
}

func TestAddXzArchive(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	dir := prepareCase(t, "add-xz")
	src := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(src, "sub"), 0o755))
	must(t, os.WriteFile(filepath.Join(src, "sub", "f"), []byte("payload\n"), 0o644))
	if o, err := exec.Command("tar", "-C", src, "-cJf", filepath.Join(dir, "a.tar.xz"), ".").CombinedOutput(); err != nil {
		t.Fatalf("make a.tar.xz: %v\n%s", err, o)
	}
	img, _ := build(t, r, dir, "xbuild-test/add-xz")
	checkFile(t, img, "/x/sub/f", "payload\n", 0o644, 0, 0)
	checkAbsent(t, img, "/x/a.tar.xz")
}
