package exporter

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/xbuild/xbuild/internal/testutil"
	"github.com/xbuild/xbuild/layer"
)

// checkRichTree checks the final filesystem of the image richUppers makes.
func checkRichTree(t *testing.T, what string, tree map[string]node) {
	t.Helper()
	for _, p := range []string{"gone", "gonedir", "gonedir/x", "opq/a", "opq/sub", "opq/sub/b"} {
		if _, ok := tree[p]; ok {
			t.Errorf("%s: %s was deleted by the upper layer but is there", what, p)
		}
	}
	for p, n := range tree {
		if strings.Contains(p, ".wh.") {
			t.Errorf("%s: whiteout %s in a final filesystem", what, p)
		}
		if n.Type == "other 20000" {
			t.Errorf("%s: character device %s", what, p)
		}
	}
	want := map[string]node{
		"hello":  {Type: "file", Mode: 0o640, UID: 1000, GID: 1000, Content: sha([]byte("hello world\n")), Mtime: stamp.Unix(), LinkedTo: "hard"},
		"bin/su": {Type: "file", Mode: 0o4755, Content: sha([]byte("setuid\n")), Mtime: stamp.Unix()},
		"link":   {Type: "symlink", Link: "hello", Mtime: stamp.Unix()},
		"abs":    {Type: "symlink", Link: "/etc/passwd", Mtime: stamp.Unix()},
		"empty":  {Type: "dir", Mode: 0o1770, UID: 1, GID: 1, Mtime: stamp.Unix()},
		"fifo":   {Type: "fifo", Mode: 0o600, Mtime: stamp.Unix()},
		"new":    {Type: "file", Mode: 0o600, UID: 1000, GID: 50, Content: sha([]byte("new file")), Mtime: stamp.Unix()},
		"opq/c":  {Type: "file", Mode: 0o644, Content: sha([]byte("c")), Mtime: stamp.Unix()},
		"opq":    {Type: "dir", Mode: 0o755, Mtime: stamp.Unix()},
		"bin":    {Type: "dir", Mode: 0o755, Mtime: stamp.Unix()},
		"etc/passwd": {Type: "file", Mode: 0o644, Content: sha([]byte("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/:/bin/sh\n")),
			Mtime: stamp.Unix()},
	}
	for p, w := range want {
		if g, ok := tree[p]; !ok || g != w {
			t.Errorf("%s: %s is %+v, want %+v", what, p, g, w)
		}
	}
	if _, ok := tree["bin/tool"]; !ok {
		t.Errorf("%s: bin/tool missing", what)
	}
}

func TestWriteLocalAndFSTar(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	e := newEnv(t)
	l1, l2 := richUppers(t)
	img := makeImage(t, e, layer.Gzip, "x", l1, l2)

	dest := filepath.Join(t.TempDir(), "out")
	must(t, os.MkdirAll(filepath.Join(dest, "hello"), 0o755)) // replaced by the image's file
	must(t, os.WriteFile(filepath.Join(dest, "stale"), []byte("mine"), 0o644))
	must(t, os.Symlink("/etc", filepath.Join(dest, "new"))) // must not be followed
	must(t, WriteLocal(ctx, e.src, img, dest))
	local := readTree(t, dest)
	if _, ok := local["stale"]; !ok {
		t.Error("WriteLocal removed a file it does not own")
	}
	delete(local, "stale")
	checkRichTree(t, "local", local)

	var buf bytes.Buffer
	must(t, WriteFSTar(ctx, e.src, img, &buf))
	compareTrees(t, "fs tar vs local", local, readTarTree(t, buf.Bytes()))

	// A second export reuses the snapshots and gives the same bytes.
	var again bytes.Buffer
	must(t, WriteFSTar(ctx, e.src, img, &again))
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Error("two filesystem tars of one image differ")
	}
	e.checkTmpEmpty(t)
	if mounts, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mounts), e.root.Dir) {
		t.Error("a mount is left in the host namespace")
	}
}

// TestWriteFSTarOneLayer exports a one-layer image, whose view is a bind
// mount: whiteouts of the base layer must not show.
func TestWriteFSTarOneLayer(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	e := newEnv(t)
	up := plainUpper(t, map[string]string{"dir/a": "a", "b": "b"})
	must(t, unix.Mknod(filepath.Join(up, "ghost"), unix.S_IFCHR, 0))
	must(t, unix.Setxattr(filepath.Join(up, "dir"), "trusted.overlay.opaque", []byte("y"), 0))
	img := makeImage(t, e, layer.Zstd, "x", up)

	var buf bytes.Buffer
	must(t, WriteFSTar(ctx, e.src, img, &buf))
	names, _ := tarEntries(t, buf.Bytes())
	if strings.Join(names, " ") != "b dir/ dir/a" {
		t.Errorf("entries %v, want b dir/ dir/a", names)
	}
	dest := t.TempDir()
	must(t, WriteLocal(ctx, e.src, img, dest))
	compareTrees(t, "one layer", readTarTree(t, buf.Bytes()), readTree(t, dest))
}

func TestWriteFSTarNoLayers(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	img := makeImage(t, e, layer.Gzip, "x")
	var buf bytes.Buffer
	must(t, WriteFSTar(ctx, e.src, img, &buf))
	if names, _ := tarEntries(t, buf.Bytes()); len(names) != 0 {
		t.Errorf("empty image tar has %v", names)
	}
	dest := filepath.Join(t.TempDir(), "out")
	must(t, WriteLocal(ctx, e.src, img, dest))
	if ents, err := os.ReadDir(dest); err != nil || len(ents) != 0 {
		t.Errorf("empty image export: %v %v", ents, err)
	}
}
