package executor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

const maxSymlinks = 255

// resolveIn resolves p inside the tree at root as if root were "/": symlinks
// are followed (absolute ones restart at root) and ".." never climbs above
// root. It returns the resulting absolute in-root path, free of symlinks for
// the components that exist; missing components are kept as written. The
// rootfs is not running anything while this is used, so there is no race.
func resolveIn(root, p string) (string, error) {
	cur, rest, links := "", p, 0
	for rest != "" {
		var comp string
		comp, rest, _ = strings.Cut(strings.TrimLeft(rest, "/"), "/")
		switch comp {
		case "", ".":
			continue
		case "..":
			cur = cur[:max(strings.LastIndex(cur, "/"), 0)]
			continue
		}
		next := cur + "/" + comp
		fi, err := os.Lstat(filepath.Join(root, next))
		if errors.Is(err, fs.ErrNotExist) {
			cur = next
			continue
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if links++; links > maxSymlinks {
			return "", fmt.Errorf("resolve %s: %w", p, unix.ELOOP)
		}
		target, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if path.IsAbs(target) {
			cur = ""
		}
		rest = target + "/" + rest
	}
	if cur == "" {
		return "/", nil
	}
	return cur, nil
}

// stubs makes missing mount points inside a rootfs and removes them again.
// Paths are in-root paths; prefix maps them to the current view (the rootfs
// directory before pivot_root, "/" after).
type stubs struct {
	created []string          // in creation order
	parents map[string]parent // directories that got a stub, as they were
}

type parent struct {
	names []string
	times []unix.Timespec // atime, mtime
}

// ensure makes rel (a resolved in-root path) exist, as a directory or an
// empty file, creating missing parents with mode 0755.
func (s *stubs) ensure(prefix, rel string, dir bool) error {
	parts := strings.Split(strings.Trim(rel, "/"), "/")
	cur := ""
	for i, part := range parts {
		cur += "/" + part
		host := filepath.Join(prefix, cur)
		if _, err := os.Lstat(host); err == nil {
			continue
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		s.noteParent(prefix, path.Dir(cur))
		if err := makeStub(host, dir || i < len(parts)-1); err != nil {
			return err
		}
		s.created = append(s.created, cur)
	}
	return nil
}

func makeStub(host string, dir bool) error {
	if dir {
		return os.Mkdir(host, 0o755)
	}
	f, err := os.OpenFile(host, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// noteParent remembers the entries and times of a directory that is about to
// get a stub, so that removing the stubs can restore its mtime and the
// directory does not look changed in a layer.
func (s *stubs) noteParent(prefix, dir string) {
	if _, ok := s.parents[dir]; ok || slices.Contains(s.created, dir) {
		return
	}
	host := filepath.Join(prefix, dir)
	var st unix.Stat_t
	if unix.Lstat(host, &st) != nil {
		return
	}
	names, err := readNames(host)
	if err != nil {
		return
	}
	if s.parents == nil {
		s.parents = map[string]parent{}
	}
	s.parents[dir] = parent{names: names, times: []unix.Timespec{st.Atim, st.Mtim}}
}

// remove deletes the stubs (newest first; a directory someone filled is
// kept) and restores the times of the directories that hold them when their
// entries are back to what they were.
func (s *stubs) remove(prefix string) {
	for i := len(s.created) - 1; i >= 0; i-- {
		os.Remove(filepath.Join(prefix, s.created[i]))
	}
	for dir, p := range s.parents {
		host := filepath.Join(prefix, dir)
		if names, err := readNames(host); err == nil && slices.Equal(names, p.names) {
			unix.UtimesNanoAt(unix.AT_FDCWD, host, p.times, unix.AT_SYMLINK_NOFOLLOW)
		}
	}
}

func readNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	slices.Sort(names)
	return names, err
}
