package integration

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/xbuild/xbuild/internal/testutil"
)

// baseHistory is the number of history entries of the base image
// (testdata/dockerfiles/busybox): COPY, RUN, COPY, RUN, ENV, CMD.
const baseHistory = 6

// baseLayers is the number of layers of the base image.
const baseLayers = 4

// historyComment is what BuildKit writes as every entry's comment.
const historyComment = "buildkit.dockerfile.v0"

// defaultPath is the PATH of the base image and BuildKit's default.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// shared is the state dir of tests that only add uniquely named images: the
// base image is built there once, by the first test that needs it.
var shared struct {
	dir    string
	once   sync.Once
	root   *testutil.Root
	baseID string
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "xbuild-shared-root-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shared.dir = dir
	code := m.Run()
	if err := testutil.CleanupRoot(dir); err != nil {
		fmt.Fprintf(os.Stderr, "shared state dir %s: %v\n", dir, err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// sharedRoot returns the shared state dir holding the base image. Tests
// using it must give their images names no other test uses.
func sharedRoot(t *testing.T) *testutil.Root {
	t.Helper()
	testutil.RequireRoot(t)
	shared.once.Do(func() {
		r := &testutil.Root{Dir: shared.dir, Bin: testutil.Bin(t)}
		shared.baseID = testutil.BuildBase(t, r)
		shared.root = r
	})
	if shared.root == nil {
		t.Fatal("the base image could not be built into the shared state dir (see the first test that tried)")
	}
	return shared.root
}

// isolatedRoot returns a new state dir of the test's own, with the base
// image built into it.
func isolatedRoot(t *testing.T) *testutil.Root {
	t.Helper()
	r := testutil.NewRoot(t)
	testutil.BuildBase(t, r)
	return r
}

// caseDir is testdata/dockerfiles/<name> in the repository.
func caseDir(t testing.TB, name string) string {
	return filepath.Join(testutil.RepoRoot(t), "testdata", "dockerfiles", name)
}

// prepareCase copies testdata/dockerfiles/<name> to a temp dir (so tests
// can add files and modes git does not keep) and returns the copy, whose
// parent is an empty temp dir of the test.
func prepareCase(t testing.TB, name string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	testutil.CopyDir(t, caseDir(t, name), dir)
	return dir
}

// build builds ctxDir tagged name with extra flags, reads the image back and
// returns it with the build's progress.
func build(t *testing.T, r *testutil.Root, ctxDir, name string, extra ...string) (*testutil.Image, Progress) {
	t.Helper()
	id, res := r.Build(t, ctxDir, append([]string{"-t", name}, extra...)...)
	if res.Code != 0 {
		t.Fatalf("build of %s failed:\n%s", ctxDir, res)
	}
	if !testutil.IsImageID(id) {
		t.Fatalf("--iidfile holds %q, want sha256:<64 hex>", id)
	}
	img := testutil.ReadImage(t, r, name)
	if img.Info.ID != id {
		t.Errorf("inspect %s: Id %s, but the build wrote %s to --iidfile", name, img.Info.ID, id)
	}
	return img, ParseProgress(res.Stderr)
}

// buildCase builds testdata/dockerfiles/<name> as xbuild-test/<name>.
func buildCase(t *testing.T, r *testutil.Root, name string, extra ...string) (*testutil.Image, Progress) {
	t.Helper()
	return build(t, r, prepareCase(t, name), "xbuild-test/"+name, extra...)
}

// buildOptional builds ctxDir as name like build, but skips the test when
// xbuild says a feature is "not supported yet" (for cases beyond the
// features every release must have).
func buildOptional(t *testing.T, r *testutil.Root, ctxDir, name string, extra ...string) *testutil.Image {
	t.Helper()
	_, res := r.Build(t, ctxDir, append([]string{"-t", name}, extra...)...)
	if res.Code != 0 && strings.Contains(res.LastLine(), "not supported yet") {
		t.Skipf("xbuild does not support this yet: %s", res.LastLine())
	}
	if res.Code != 0 {
		t.Fatalf("build of %s failed:\n%s", ctxDir, res)
	}
	return testutil.ReadImage(t, r, name)
}

// must fails the test on a setup error.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// writeTarGz writes a gzip-compressed tar of regular files (mode 0644).
func writeTarGz(t testing.TB, path string, files map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		data := files[name]
		must(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte(data))
		must(t, err)
	}
	must(t, tw.Close())
	must(t, zw.Close())
	must(t, os.WriteFile(path, buf.Bytes(), 0o644))
}
