package integration

import (
	"archive/tar"
	"sort"
	"testing"

	"github.com/xbuild/xbuild/internal/testutil"
)

func TestDeletedFiles(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "delete-file")
	checkFile(t, img, "/data/keep.txt", "keep\n", 0o644, 0, 0)
	checkAbsent(t, img, "/data/gone.txt", "/data/dir", "/data/dir/x.txt", "/bin/vi")
	if !img.Has("/bin/busybox") || !img.Has("/bin/sh") {
		t.Errorf("deleting /bin/vi took other files of /bin with it")
	}
	equal(t, "layer count", len(img.Layers), baseLayers+2)
	created, top := img.Layers[len(img.Layers)-2], lastLayer(t, img)
	for _, p := range []string{"/data/gone.txt", "/data/dir/x.txt"} {
		if _, ok := created.Find(p); !ok {
			t.Errorf("the creating layer has no %s: %v", p, created.Paths())
		}
	}
	for _, wh := range []string{"/data/.wh.gone.txt", "/data/.wh.dir", "/bin/.wh.vi"} {
		if _, ok := top.Find(wh); !ok {
			t.Errorf("the deleting layer has no whiteout %s: %v", wh, top.Paths())
		}
	}
	for _, p := range []string{"/data/keep.txt", "/bin/busybox", "/data/gone.txt", "/bin/vi"} {
		if _, ok := top.Find(p); ok {
			t.Errorf("the deleting layer holds %s, which it did not create", p)
		}
	}
	// A container of the image sees the same.
	checkRuns(t, r, []runCase{
		{args: []string{img.Name, "ls", "-A", "/data"}, stdout: "keep.txt\n"},
		{args: []string{img.Name, "test", "-e", "/bin/vi"}, code: 1},
	})
}

func TestReplacedDirectories(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "opaque-dir")
	checkDir(t, img, "/opq", 0o755, 0, 0)
	equal(t, "children of /opq", img.Children("/opq"), []string{"c"})
	checkFile(t, img, "/opq/c", "new\n", 0o644, 0, 0)
	checkFile(t, img, "/d2", "now-a-file\n", 0o644, 0, 0)
	checkAbsent(t, img, "/opq/a", "/opq/sub", "/opq/sub/b", "/d2/inner", "/d2/inner/f")

	lower, top := img.Layers[len(img.Layers)-2], lastLayer(t, img)
	if _, ok := lower.Find("/opq/sub/b"); !ok {
		t.Fatalf("the first RUN's layer has no /opq/sub/b: %v", lower.Paths())
	}
	if _, ok := top.Find("/opq/.wh..wh..opq"); !ok {
		t.Errorf("the layer that replaced /opq has no opaque whiteout /opq/.wh..wh..opq: %v", top.Paths())
	}
	if e, ok := top.Find("/d2"); !ok || e.Type != tar.TypeReg {
		t.Errorf("the layer that replaced directory /d2 by a file has no file /d2: %v", top.Paths())
	}
	checkRuns(t, r, []runCase{
		{args: []string{img.Name, "ls", "-A", "/opq"}, stdout: "c\n"},
		{args: []string{img.Name, "cat", "/d2"}, stdout: "now-a-file\n"},
	})
}

// TestFlatten pins the test's own layer applier (testutil.Flatten) to the
// OCI rules, so that the image assertions of the other tests mean something.
func TestFlatten(t *testing.T) {
	reg := func(p string) testutil.Entry { return testutil.Entry{Path: p, Type: tar.TypeReg} }
	dir := func(p string) testutil.Entry { return testutil.Entry{Path: p, Type: tar.TypeDir} }
	layers := []testutil.Layer{
		{Entries: []testutil.Entry{dir("/a"), reg("/a/1"), dir("/a/sub"), reg("/a/sub/2"), dir("/b"), reg("/b/3"), reg("/c"), dir("/d"), reg("/d/4"), reg("/keep")}},
		{Entries: []testutil.Entry{
			reg("/a/.wh..wh..opq"), reg("/a/new"), // opaque: lower contents of /a go, same-layer entries stay
			reg("/.wh.b"), // whiteout of a directory takes its contents
			reg("/.wh.c"),
			reg("/d"), // a file replacing a directory
		}},
		{Entries: []testutil.Entry{reg("/c")}}, // re-created after its whiteout
	}
	got := testutil.Flatten(layers)
	var paths []string
	for p := range got {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	equal(t, "flattened paths", paths, []string{"/a", "/a/new", "/c", "/d", "/keep"})
	equal(t, "type of /d", got["/d"].Type, byte(tar.TypeReg))
}
