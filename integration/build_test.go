package integration

import (
	"archive/tar"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestRunForms(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, prog := buildCase(t, r, "run-forms")
	checkFile(t, img, "/shell.txt", "shell-form\n", 0o644, 0, 0)
	// Exec form: no shell parsed the JSON, so "$NOT_EXPANDED" arrived as a
	// literal argument.
	checkFile(t, img, "/exec.txt", "$NOT_EXPANDED\n", 0o644, 0, 0)
	checkFile(t, img, "/touched", "", 0o644, 0, 0)
	checkHistory(t, img, baseHistory,
		layer("RUN /bin/sh -c echo shell-form > /shell.txt # buildkit"),
		layer(`RUN /bin/sh -c echo "$1" > /exec.txt sh $NOT_EXPANDED # buildkit`),
		layer("RUN touch /touched # buildkit"),
		layer("RUN /bin/sh -c echo out-one; echo err-two >&2; echo out-three # buildkit"),
	)
	equal(t, "layer count", len(img.Layers), baseLayers+4)

	equal(t, "prefix of the first RUN step", prog.Step(t, "RUN echo shell-form").Prefix(), "2/5")
	out := prog.Step(t, "RUN echo out-one")
	equal(t, "prefix of the last RUN step", out.Prefix(), "5/5")
	for _, want := range []string{"out-one", "err-two", "out-three"} {
		if !slices.Contains(out.Logs, want) {
			t.Errorf("output of %q has no line %q (stdout and stderr are both shown): %q", out.Instr, want, out.Logs)
		}
	}
	if !out.Done || out.Cached {
		t.Errorf("step %q: done=%v cached=%v, want done and not cached", out.Instr, out.Done, out.Cached)
	}
}

func TestCopyBasic(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	dir := prepareCase(t, "copy-basic")
	must(t, os.Chmod(filepath.Join(dir, "script.sh"), 0o755))
	must(t, os.Chmod(filepath.Join(dir, "secret.txt"), 0o600))
	must(t, os.Chmod(filepath.Join(dir, "dir", "sub"), 0o750))
	must(t, os.Symlink("one.txt", filepath.Join(dir, "dir", "link")))
	must(t, os.Mkdir(filepath.Join(dir, "dir", "empty"), 0o700))
	must(t, os.Chown(filepath.Join(dir, "a.txt"), 4321, 4321))
	img, _ := build(t, r, dir, "xbuild-test/copy-basic")

	checkFile(t, img, "/a.txt", "alpha\n", 0o644, 0, 0) // owner reset to 0:0
	checkFile(t, img, "/multi/a.txt", "alpha\n", 0o644, 0, 0)
	checkFile(t, img, "/multi/b.txt", "beta\n", 0o644, 0, 0)
	for _, d := range []string{"/dircopy", "/dircopy2"} {
		checkFile(t, img, d+"/one.txt", "one\n", 0o644, 0, 0)
		checkFile(t, img, d+"/sub/two.txt", "two\n", 0o644, 0, 0)
		checkDir(t, img, d+"/sub", 0o750, 0, 0)
		checkDir(t, img, d+"/empty", 0o700, 0, 0)
		if e, ok := img.FS[d+"/link"]; !ok || e.Type != tar.TypeSymlink || e.Linkname != "one.txt" {
			t.Errorf("%s/link = %v, want a symlink to one.txt", d, e)
		}
		checkAbsent(t, img, d+"/dir")
	}
	checkFile(t, img, "/modes/script.sh", "#!/bin/sh\necho script\n", 0o755, 0, 0)
	checkFile(t, img, "/modes/secret.txt", "secret\n", 0o600, 0, 0)
	checkFile(t, img, "/newdir/sub/renamed.txt", "alpha\n", 0o644, 0, 0)
	checkDir(t, img, "/newdir/sub", 0o755, 0, 0)
	equal(t, "children of /glob", img.Children("/glob"), []string{"a.txt", "b.txt", "secret.txt"})

	checkHistory(t, img, baseHistory,
		layer("COPY a.txt /a.txt # buildkit"),
		layer("COPY a.txt b.txt /multi/ # buildkit"),
		layer("COPY dir /dircopy # buildkit"),
		layer("COPY dir/ /dircopy2/ # buildkit"),
		layer("COPY script.sh secret.txt /modes/ # buildkit"),
		layer("COPY a.txt /newdir/sub/renamed.txt # buildkit"),
		layer("COPY *.txt /glob/ # buildkit"),
	)
	// A COPY's layer holds what it copied, nothing else of the rootfs.
	if l := img.LayerOf(baseHistory); l >= 0 {
		equal(t, "files in the layer of `COPY a.txt /a.txt`", nonDirPaths(img.Layers[l]), []string{"/a.txt"})
	}
}

func TestCopyChownChmod(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "copy-chown")
	checkFile(t, img, "/f1.txt", "f1\n", 0o644, 1000, 1000)
	checkFile(t, img, "/f2.txt", "f2\n", 0o644, 1000, 50)
	checkFile(t, img, "/f3.txt", "f3\n", 0o644, 1000, 1000) // primary group of app
	checkFile(t, img, "/f4.txt", "f4\n", 0o644, 1, 50)
	checkFile(t, img, "/f5.txt", "f5\n", 0o600, 0, 0)
	checkFile(t, img, "/owned/x.txt", "x\n", 0o644, 1000, 1000)
	checkFile(t, img, "/owned/sub/y.txt", "y\n", 0o644, 1000, 1000)
	checkDir(t, img, "/owned/sub", 0o755, 1000, 1000)
	checkFile(t, img, "/both.txt", "f1\n", 0o750, 4242, 4343)
	checkHistory(t, img, baseHistory,
		layer("COPY --chown=app:app f1.txt /f1.txt # buildkit"),
		layer("COPY --chown=1000:50 f2.txt /f2.txt # buildkit"),
		layer("COPY --chown=app f3.txt /f3.txt # buildkit"),
		layer("COPY --chown=daemon:staff f4.txt /f4.txt # buildkit"),
		layer("COPY --chmod=0600 f5.txt /f5.txt # buildkit"),
		layer("COPY --chown=app:app dir /owned/ # buildkit"),
		layer("COPY --chown=4242:4343 --chmod=0750 f1.txt /both.txt # buildkit"),
	)
}

func TestAddLocal(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	dir := prepareCase(t, "add-local")
	writeTarGz(t, filepath.Join(dir, "archive.tar.gz"), map[string]string{"inner/one.txt": "one\n", "two.txt": "two\n"})
	img := buildOptional(t, r, dir, "xbuild-test/add-local")
	checkFile(t, img, "/added/plain.txt", "plain\n", 0o644, 0, 0)
	equal(t, "/extracted/inner/one.txt", content(t, img, "/extracted/inner/one.txt"), "one\n")
	equal(t, "/extracted/two.txt", content(t, img, "/extracted/two.txt"), "two\n")
	checkAbsent(t, img, "/extracted/archive.tar.gz")
	checkHistory(t, img, baseHistory,
		layer("ADD plain.txt /added/plain.txt # buildkit"),
		layer("ADD archive.tar.gz /extracted/ # buildkit"),
	)
}

func TestFromScratch(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "from-scratch")
	checkFile(t, img, "/hello.txt", "hello\n", 0o644, 0, 0)
	checkHistory(t, img, 0, layer("COPY hello.txt /hello.txt # buildkit"))
	if len(img.Layers) != 1 {
		t.Fatalf("%d layers, want 1", len(img.Layers))
	}
	equal(t, "files of the only layer", nonDirPaths(img.Layers[0]), []string{"/hello.txt"})
	c := img.Config.Config
	equal(t, "Config.Env", c.Env, []string{defaultPath})
	equal(t, "Config.Cmd", c.Cmd, []string(nil))
	equal(t, "Config.WorkingDir", c.WorkingDir, "/")
}
