package integration

import (
	"bytes"
	"crypto/md5"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xbuild/xbuild/internal/testutil"
)

// checkNoLayerPath checks that no layer of img has an entry at or below
// any of dirs.
func checkNoLayerPath(t *testing.T, img *testutil.Image, dirs ...string) {
	t.Helper()
	for i, l := range img.Layers {
		for _, e := range l.Entries {
			for _, d := range dirs {
				if e.Path == d || strings.HasPrefix(e.Path, d+"/") {
					t.Errorf("%s: layer %d has %s", img.Name, i, e)
				}
			}
		}
	}
}

func TestRunMountCache(t *testing.T) {
	t.Parallel()
	r := isolatedRoot(t)
	dir := prepareCase(t, "runmount-cache")
	img, _ := build(t, r, dir, "xbuild-test/runmount-cache", "--no-cache")
	equal(t, "first build /seen.txt", content(t, img, "/seen.txt"), "none\n")
	equal(t, "/owned.txt", content(t, img, "/owned.txt"), "1000:1000:700\n")
	checkNoLayerPath(t, img, "/var/cache/app", "/owned")

	img, _ = build(t, r, dir, "xbuild-test/runmount-cache", "--no-cache")
	equal(t, "second build /seen.txt", content(t, img, "/seen.txt"), "cached-data\n")
	checkNoLayerPath(t, img, "/var/cache/app", "/owned")
}

func TestRunMountBind(t *testing.T) {
	t.Parallel()
	r := isolatedRoot(t)
	dir := prepareCase(t, "runmount-bind")
	must(t, os.Chmod(dir, 0o750)) // the bound context's root keeps its mode
	const name = "xbuild-test/runmount-bind"
	img, _ := build(t, r, dir, name)
	equal(t, "/copy-of-bound.txt", content(t, img, "/copy-of-bound.txt"), "bound-v1\n")
	equal(t, "/from-stage.txt", content(t, img, "/from-stage.txt"), "from-stage\n")
	equal(t, "/rw-ok.txt", content(t, img, "/rw-ok.txt"), "scribble\n")
	if got := content(t, img, "/ro-status.txt"); got == "0\n" {
		t.Errorf("writing to a read-only bind succeeded")
	}
	equal(t, "/tmpfs-ls.txt", content(t, img, "/tmpfs-ls.txt"), "t.txt\n")
	fi, err := os.Stat(dir)
	must(t, err)
	equal(t, "/ignored.txt (.dockerignore'd file in the bound context; context dir mode)", content(t, img, "/ignored.txt"), fmt.Sprintf("hidden\n%o\n", fi.Mode().Perm()))
	checkNoLayerPath(t, img, "/mnt", "/stage", "/ctx", "/ro.txt", "/scratch")
	if _, err := os.Stat(filepath.Join(dir, "written.txt")); err == nil {
		t.Errorf("a write to the rw bind of the context reached the context dir")
	}

	// An unrelated context change keeps the bind step cached.
	must(t, os.WriteFile(filepath.Join(dir, "other.txt"), []byte("other-v2\n"), 0o644))
	_, p := build(t, r, dir, name)
	if s := p.Step(t, "cat /mnt/bound.txt"); !s.Cached {
		t.Errorf("the bind step ran again after an unrelated context change")
	}
	// A change to the bound file runs it again.
	must(t, os.WriteFile(filepath.Join(dir, "bound.txt"), []byte("bound-v2\n"), 0o644))
	img, p = build(t, r, dir, name)
	if s := p.Step(t, "cat /mnt/bound.txt"); s.Cached {
		t.Errorf("the bind step was CACHED after the bound file changed")
	}
	equal(t, "/copy-of-bound.txt after the change", content(t, img, "/copy-of-bound.txt"), "bound-v2\n")
}

func TestRunMountSecret(t *testing.T) {
	// Not parallel: it sets an environment variable for xbuild.
	r := sharedRoot(t)
	dir := prepareCase(t, "runmount-secret")
	fileVal := "s3cr3t-file-value-4711"
	envVal := "s3cr3t-env-value-0815"
	secretFile := filepath.Join(t.TempDir(), "secret.txt")
	must(t, os.WriteFile(secretFile, []byte(fileVal), 0o600))
	t.Setenv("XBUILD_TEST_TOKEN", envVal)
	const name = "xbuild-test/runmount-secret"
	id, res := r.Build(t, dir, "-t", name, "--secret", "id=mysecret,src="+secretFile, "--secret", "id=envsecret,env=XBUILD_TEST_TOKEN")
	if res.Code != 0 {
		t.Fatalf("build failed:\n%s", res)
	}
	img := testutil.ReadImage(t, r, name)
	equal(t, "image ID", img.Info.ID, id)
	equal(t, "/file-sum.txt", content(t, img, "/file-sum.txt"), fmt.Sprintf("%x  -\n", md5.Sum([]byte(fileVal))))
	equal(t, "/env-sum.txt", content(t, img, "/env-sum.txt"), fmt.Sprintf("%x  -\n", md5.Sum([]byte(envVal))))
	equal(t, "/absent.txt", content(t, img, "/absent.txt"), "skipped\n")
	equal(t, "/secret-perm.txt", content(t, img, "/secret-perm.txt"), "440:1000\n")
	checkNoLayerPath(t, img, "/run/secrets", "/etc/app-secret")

	for _, v := range []string{fileVal, envVal} {
		for i, l := range img.Layers {
			for _, e := range l.Entries {
				if bytes.Contains(e.Content, []byte(v)) || strings.Contains(e.Path, v) {
					t.Errorf("layer %d entry %s holds a secret value", i, e.Path)
				}
			}
		}
		outputs := map[string]string{
			"progress":           res.Stderr + res.Stdout,
			"history --no-trunc": r.MustRun(t, "history", "--no-trunc", name).Stdout,
			"inspect":            r.MustRun(t, "inspect", name).Stdout,
		}
		for what, out := range outputs {
			if strings.Contains(out, v) {
				t.Errorf("the %s output holds a secret value", what)
			}
		}
	}

	// The secret's ID is in the key, its value is not: another value
	// keeps the steps cached.
	must(t, os.WriteFile(secretFile, []byte("another-value"), 0o600))
	_, res = r.Build(t, dir, "-t", name, "--secret", "id=mysecret,src="+secretFile, "--secret", "id=envsecret,env=XBUILD_TEST_TOKEN")
	if res.Code != 0 {
		t.Fatalf("second build failed:\n%s", res)
	}
	if s := ParseProgress(res.Stderr).Step(t, "md5sum < /run/secrets/mysecret"); !s.Cached {
		t.Errorf("the secret step ran again when only the secret's value changed")
	}
}

func TestRunMountSecretRequired(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	dir := prepareCase(t, "runmount-secret-required")
	_, res := r.Build(t, dir, "-t", "xbuild-test/runmount-secret-required")
	checkBuildFails(t, res, 2, "secret needed", "not found")
}

func TestRunMountSSHNotSupported(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	dir := prepareCase(t, "runmount-ssh")
	_, res := r.Build(t, dir, "-t", "xbuild-test/runmount-ssh")
	checkBuildFails(t, res, 2, "not supported yet: RUN --mount=type=ssh")
}
