package exporter

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"golang.org/x/sys/unix"
)

// node is what the tests compare of one file of a filesystem tree.
type node struct {
	Type     string
	Mode     uint32 // permission, setuid/setgid/sticky bits
	UID, GID int
	Content  string // sha256 of a regular file
	Link     string // symlink target
	Mtime    int64
	LinkedTo string // for hardlinks: the first path (sorted) of the inode
}

// readTree describes every entry under root (not root itself).
func readTree(t testing.TB, root string) map[string]node {
	t.Helper()
	out := map[string]node{}
	inodes := map[uint64][]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		n := node{Mode: st.Mode & 0o7777, UID: int(st.Uid), GID: int(st.Gid), Mtime: st.Mtim.Sec}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			n.Type = "dir"
		case unix.S_IFREG:
			n.Type = "file"
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			n.Content = sha(b)
			if st.Nlink > 1 {
				inodes[st.Ino] = append(inodes[st.Ino], rel)
			}
		case unix.S_IFLNK:
			n.Type = "symlink"
			n.Link, _ = os.Readlink(p)
			n.Mode = 0
		case unix.S_IFIFO:
			n.Type = "fifo"
		default:
			n.Type = fmt.Sprintf("other %o", st.Mode&unix.S_IFMT)
		}
		out[rel] = n
		return nil
	})
	must(t, err)
	for _, paths := range inodes {
		sort.Strings(paths)
		for _, p := range paths[1:] {
			n := out[p]
			n.LinkedTo = paths[0]
			out[p] = n
		}
	}
	return out
}

// readTarTree describes the entries of a filesystem tar like readTree.
func readTarTree(t testing.TB, b []byte) map[string]node {
	t.Helper()
	out := map[string]node{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(t, err)
		name := filepath.Clean(hdr.Name)
		n := node{Mode: uint32(hdr.Mode & 0o7777), UID: hdr.Uid, GID: hdr.Gid, Mtime: hdr.ModTime.Unix()}
		switch hdr.Typeflag {
		case tar.TypeDir:
			n.Type = "dir"
		case tar.TypeReg:
			data, err := io.ReadAll(tr)
			must(t, err)
			n.Type, n.Content = "file", sha(data)
		case tar.TypeLink:
			target := out[filepath.Clean(hdr.Linkname)]
			n = target
			n.LinkedTo = filepath.Clean(hdr.Linkname)
		case tar.TypeSymlink:
			n.Type, n.Link, n.Mode = "symlink", hdr.Linkname, 0
		case tar.TypeFifo:
			n.Type = "fifo"
		default:
			n.Type = fmt.Sprintf("tar type %c", hdr.Typeflag)
		}
		out[name] = n
	}
	return out
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// compareTrees reports every difference between two trees.
func compareTrees(t testing.TB, what string, want, got map[string]node) {
	t.Helper()
	for p, w := range want {
		g, ok := got[p]
		if !ok {
			t.Errorf("%s: %s missing", what, p)
			continue
		}
		if w != g {
			t.Errorf("%s: %s differs:\nwant %+v\n got %+v", what, p, w, g)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s: unexpected %s", what, p)
		}
	}
}
