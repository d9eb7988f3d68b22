package integration

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDockerignore(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	dir := prepareCase(t, "dockerignore")
	img, _ := build(t, r, dir, "xbuild-test/dockerignore")
	checkFile(t, img, "/app/app.txt", "app\n", 0o644, 0, 0)
	checkFile(t, img, "/app/keep.log", "keep\n", 0o644, 0, 0)
	checkFile(t, img, "/app/sub/ok.txt", "ok\n", 0o644, 0, 0)
	checkAbsent(t, img, "/app/secret.txt", "/app/debug.log", "/app/tmpdir", "/app/tmpdir/x.txt", "/app/sub/file.bak")

	// An ignored file is not part of the COPY's input: changing it keeps
	// the cache.
	must(t, os.WriteFile(filepath.Join(dir, "debug.log"), []byte("changed\n"), 0o644))
	id, res := r.Build(t, dir, "-t", "xbuild-test/dockerignore-2")
	if res.Code != 0 {
		t.Fatalf("rebuild failed:\n%s", res)
	}
	if s := ParseProgress(res.Stderr).Step(t, "COPY . /app/"); !s.Cached {
		t.Errorf("COPY . /app/ ran again after only an ignored file changed")
	}
	equal(t, "image ID after changing an ignored file", id, img.Info.ID)
}

func TestDockerfileOutsideContext(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	dir := prepareCase(t, "dockerfile-outside")
	img, _ := build(t, r, filepath.Join(dir, "context"), "xbuild-test/dockerfile-outside",
		"-f", filepath.Join(dir, "Custom.Dockerfile"))
	checkFile(t, img, "/ctx/hello.txt", "hello from the context\n", 0o644, 0, 0)
	checkAbsent(t, img, "/ctx/Custom.Dockerfile")
	checkFile(t, img, "/ctx-listing.txt", "Dockerfile\nhello.txt\n", 0o644, 0, 0)
	checkHistory(t, img, baseHistory,
		layer("COPY . /ctx/ # buildkit"),
		layer("RUN /bin/sh -c ls -A /ctx > /ctx-listing.txt # buildkit"),
	)
}
