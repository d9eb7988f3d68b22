package exporter

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	"github.com/xbuild/xbuild/content"
	"github.com/xbuild/xbuild/image"
	"github.com/xbuild/xbuild/layer"
	"github.com/xbuild/xbuild/snapshot"
	"github.com/xbuild/xbuild/state"
)

// env is a fresh state directory.
type env struct {
	root *state.Root
	src  Source
}

func newEnv(t testing.TB) *env {
	t.Helper()
	root, err := state.Open(t.TempDir())
	must(t, err)
	cs, err := content.NewStore(root.Dir)
	must(t, err)
	sn, err := snapshot.New(root.Path("snapshots"))
	must(t, err)
	return &env{root: root, src: Source{Blobs: cs, Snapshots: sn, TmpDir: root.TempDir}}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// checkTmpEmpty fails if the state dir's tmp/ holds anything.
func (e *env) checkTmpEmpty(t testing.TB) {
	t.Helper()
	ents, err := os.ReadDir(e.root.Path("tmp"))
	must(t, err)
	for _, ent := range ents {
		t.Errorf("left in tmp/: %s", ent.Name())
	}
}

// blobCount is the number of blobs in the store.
func (e *env) blobCount(t testing.TB) int {
	ents, err := os.ReadDir(e.root.Path("blobs", "sha256"))
	must(t, err)
	return len(ents)
}

// writeLayer stores the upper dir as a layer blob compressed with c.
func writeLayer(t testing.TB, e *env, c layer.Compression, upper string) (ocispec.Descriptor, digest.Digest) {
	t.Helper()
	ctx := context.Background()
	l, err := layer.Write(ctx, e.src.Blobs, c, func(w io.Writer) error { return layer.WriteDiff(ctx, upper, w) })
	must(t, err)
	d := l.Descriptor
	d.Annotations = map[string]string{image.AnnotationUncompressedSize: strconv.FormatInt(l.Size, 10)}
	return d, l.DiffID
}

// makeImage stores an image over the given upper dirs.
func makeImage(t testing.TB, e *env, c layer.Compression, cmd string, uppers ...string) *image.Image {
	t.Helper()
	created := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	cfg := dockerspec.DockerOCIImage{}
	cfg.OS, cfg.Architecture, cfg.Created = "linux", runtime.GOARCH, &created
	cfg.Config.Cmd = []string{"/bin/sh", "-c", cmd}
	cfg.RootFS.Type = "layers"
	var descs []ocispec.Descriptor
	for i, u := range uppers {
		d, diffID := writeLayer(t, e, c, u)
		descs = append(descs, d)
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, diffID)
		cfg.History = append(cfg.History, ocispec.History{Created: &created, CreatedBy: fmt.Sprintf("layer %d", i)})
	}
	cfg.History = append(cfg.History, ocispec.History{Created: &created, CreatedBy: "CMD " + cmd, EmptyLayer: true})
	img, err := image.Write(context.Background(), e.src.Blobs, cfg, descs)
	must(t, err)
	return img
}

// plainUpper makes a directory of plain files (no root needed).
func plainUpper(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, name)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(data), 0o644))
	}
	return dir
}

var stamp = time.Date(2023, 5, 6, 7, 8, 9, 0, time.UTC)

// richUppers makes two overlay upper dirs (root only): the first with
// every kind of file, owners and modes, the second deleting a file and a
// directory (overlay whiteouts) and making a directory opaque.
func richUppers(t testing.TB) (string, string) {
	t.Helper()
	l1 := t.TempDir()
	mk := func(root, name, data string, mode uint32, uid, gid int) {
		p := filepath.Join(root, name)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(data), 0o600))
		must(t, os.Chown(p, uid, gid))
		must(t, unix.Chmod(p, mode))
	}
	mk(l1, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n", 0o644, 0, 0)
	mk(l1, "hello", "hello world\n", 0o640, 1000, 1000)
	mk(l1, "bin/tool", "#!/bin/sh\necho tool\n", 0o755, 0, 0)
	mk(l1, "bin/su", "setuid\n", 0o4755, 0, 0)
	mk(l1, "opq/a", "a", 0o644, 0, 0)
	mk(l1, "opq/sub/b", "b", 0o644, 0, 0)
	mk(l1, "gone", "to be deleted", 0o644, 0, 0)
	mk(l1, "gonedir/x", "x", 0o644, 0, 0)
	must(t, os.Link(filepath.Join(l1, "hello"), filepath.Join(l1, "hard")))
	must(t, os.Symlink("hello", filepath.Join(l1, "link")))
	must(t, os.Symlink("/etc/passwd", filepath.Join(l1, "abs")))
	must(t, os.Mkdir(filepath.Join(l1, "empty"), 0o700))
	must(t, os.Chown(filepath.Join(l1, "empty"), 1, 1))
	must(t, unix.Chmod(filepath.Join(l1, "empty"), 0o1770))
	must(t, unix.Mkfifo(filepath.Join(l1, "fifo"), 0o600))

	l2 := t.TempDir()
	must(t, unix.Mknod(filepath.Join(l2, "gone"), unix.S_IFCHR, 0))
	must(t, unix.Mknod(filepath.Join(l2, "gonedir"), unix.S_IFCHR, 0))
	mk(l2, "opq/c", "c", 0o644, 0, 0)
	must(t, unix.Setxattr(filepath.Join(l2, "opq"), "trusted.overlay.opaque", []byte("y"), 0))
	mk(l2, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/:/bin/sh\n", 0o644, 0, 0)
	mk(l2, "new", "new file", 0o600, 1000, 50)
	stampTree(t, l1)
	stampTree(t, l2)
	return l1, l2
}

// stampTree dates every entry under root (not root itself).
func stampTree(t testing.TB, root string) {
	t.Helper()
	var paths []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if p != root {
			paths = append(paths, p)
		}
		return err
	})
	for i := len(paths) - 1; i >= 0; i-- { // children before parents
		ts := []unix.Timespec{unix.NsecToTimespec(stamp.UnixNano()), unix.NsecToTimespec(stamp.UnixNano())}
		must(t, unix.UtimesNanoAt(unix.AT_FDCWD, paths[i], ts, unix.AT_SYMLINK_NOFOLLOW))
	}
}

// tarEntries returns the names and contents of a tar's regular files.
func tarEntries(t testing.TB, b []byte) (names []string, files map[string][]byte) {
	t.Helper()
	files = map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names, files
		}
		must(t, err)
		names = append(names, hdr.Name)
		if hdr.Typeflag == tar.TypeReg {
			data, err := io.ReadAll(tr)
			must(t, err)
			files[hdr.Name] = data
		}
	}
}

// buildTar makes a tar of the given entries; a nil body is an empty file.
type tarEntry struct {
	hdr  tar.Header
	body []byte
}

func buildTar(t testing.TB, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.hdr
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		must(t, tw.WriteHeader(&h))
		_, err := tw.Write(e.body)
		must(t, err)
	}
	must(t, tw.Close())
	return buf.Bytes()
}

func file(name string, body []byte) tarEntry {
	return tarEntry{hdr: tar.Header{Name: name}, body: body}
}
