package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrNotFound is returned for a snapshot that does not exist.
var ErrNotFound = errors.New("snapshot not found")

// Snapshotter is the overlayfs snapshotter. Keys of active snapshots come
// from NewKey; names of committed snapshots are chosen by the caller
// (xbuild uses layer chain IDs) and must be safe file names.
type Snapshotter struct {
	dir string
}

// New returns the snapshotter over dir (the state dir's snapshots/) and
// removes active snapshots whose process is gone.
func New(dir string) (*Snapshotter, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create snapshot dir: %w", err)
	}
	s := &Snapshotter{dir: dir}
	s.sweep()
	return s, nil
}

// NewKey returns a fresh key for an active snapshot owned by this process.
func (s *Snapshotter) NewKey() string {
	var b [6]byte
	f, err := os.Open("/dev/urandom")
	if err == nil {
		f.Read(b[:])
		f.Close()
	}
	return fmt.Sprintf("active-pid%d-%x", os.Getpid(), b)
}

// FS returns the directory holding the snapshot's own files: for an active
// snapshot, the overlay upper dir the caller writes into or diffs.
func (s *Snapshotter) FS(key string) string { return filepath.Join(s.dir, key, "fs") }

// Exists reports whether the committed snapshot name exists.
func (s *Snapshotter) Exists(name string) bool {
	_, err := os.Stat(filepath.Join(s.dir, name, "fs"))
	return err == nil && !strings.HasPrefix(name, "active-")
}

// Prepare creates the active snapshot key on top of the committed snapshot
// parent ("" for none) and returns the mounts that present it read-write.
func (s *Snapshotter) Prepare(ctx context.Context, key, parent string) ([]Mount, error) {
	chain, err := s.chain(parent)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(s.dir, key)
	for _, d := range []string{"fs", "work"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("prepare snapshot: %w", err)
		}
	}
	if parent != "" {
		if err := os.WriteFile(filepath.Join(dir, "parent"), []byte(parent), 0o644); err != nil {
			return nil, fmt.Errorf("prepare snapshot: %w", err)
		}
	}
	if len(chain) == 0 {
		return []Mount{{Type: "bind", Source: s.FS(key), Options: []string{"rbind"}}}, nil
	}
	opts := append([]string{
		"lowerdir=" + strings.Join(chain, ":"),
		"upperdir=" + s.FS(key),
		"workdir=" + filepath.Join(dir, "work"),
	}, overlayOptions()...)
	return []Mount{{Type: "overlay", Source: "overlay", Options: opts}}, nil
}

// View returns read-only mounts of the committed snapshot parent.
func (s *Snapshotter) View(ctx context.Context, parent string) ([]Mount, error) {
	chain, err := s.chain(parent)
	if err != nil {
		return nil, err
	}
	switch len(chain) {
	case 0:
		return nil, fmt.Errorf("view of an empty snapshot chain")
	case 1:
		return []Mount{{Type: "bind", Source: chain[0], Options: []string{"rbind", "ro"}}}, nil
	}
	return []Mount{{Type: "overlay", Source: "overlay", Options: append([]string{"lowerdir=" + strings.Join(chain, ":")}, overlayOptions()...)}}, nil
}

// Commit turns the active snapshot key into the committed snapshot name. If
// name already exists (the same layer was made before, maybe by another
// process) the active snapshot is discarded and Commit succeeds.
func (s *Snapshotter) Commit(ctx context.Context, name, key string) error {
	if s.Exists(name) {
		return s.Remove(ctx, key)
	}
	src := filepath.Join(s.dir, key)
	if err := os.RemoveAll(filepath.Join(src, "work")); err != nil {
		return fmt.Errorf("commit snapshot %s: %w", name, err)
	}
	if err := syncTree(filepath.Join(src, "fs")); err != nil {
		return fmt.Errorf("commit snapshot %s: %w", name, err)
	}
	if err := os.Rename(src, filepath.Join(s.dir, name)); err != nil {
		if s.Exists(name) {
			return s.Remove(ctx, key)
		}
		return fmt.Errorf("commit snapshot %s: %w", name, err)
	}
	return nil
}

// Remove deletes a snapshot, active or committed. Missing is not an error.
func (s *Snapshotter) Remove(ctx context.Context, key string) error {
	if key == "" || strings.ContainsAny(key, "/\\") || key == "." || key == ".." {
		return fmt.Errorf("remove snapshot: bad key %q", key)
	}
	// Rename first so a half-removed snapshot is never mistaken for a good one.
	dir := filepath.Join(s.dir, key)
	trash := filepath.Join(s.dir, fmt.Sprintf("active-pid%d-rm-%s", os.Getpid(), key))
	if err := os.Rename(dir, trash); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("remove snapshot %s: %w", key, err)
	}
	return os.RemoveAll(trash)
}

// Lowers returns the fs dirs of the committed snapshot parent and its
// ancestors, top first: the lower dirs of a snapshot prepared on parent.
func (s *Snapshotter) Lowers(parent string) ([]string, error) { return s.chain(parent) }

// chain returns the fs dirs of parent and its ancestors, top first.
func (s *Snapshotter) chain(parent string) ([]string, error) {
	var out []string
	for name := parent; name != ""; {
		if !s.Exists(name) {
			return nil, fmt.Errorf("snapshot %s: %w", name, ErrNotFound)
		}
		out = append(out, s.FS(name))
		b, err := os.ReadFile(filepath.Join(s.dir, name, "parent"))
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			return nil, err
		}
		name = strings.TrimSpace(string(b))
		if len(out) > 500 {
			return nil, fmt.Errorf("snapshot %s: parent chain too long", parent)
		}
	}
	return out, nil
}

// sweep removes active snapshots left by processes that no longer exist.
func (s *Snapshotter) sweep() {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, "active-pid") {
			continue
		}
		rest := strings.TrimPrefix(name, "active-pid")
		i := strings.IndexByte(rest, '-')
		if i <= 0 {
			continue
		}
		pid, err := strconv.Atoi(rest[:i])
		if err != nil {
			continue
		}
		if err := unix.Kill(pid, 0); errors.Is(err, unix.ESRCH) {
			os.RemoveAll(filepath.Join(s.dir, name))
		}
	}
}

// overlayOptions turns off overlay features that would put redirects or
// metadata-only copies into upper dirs, which must stay plain diffs.
func overlayOptions() []string {
	var opts []string
	for _, o := range []string{"index", "redirect_dir", "metacopy"} {
		if _, err := os.Stat("/sys/module/overlay/parameters/" + o); err == nil {
			opts = append(opts, o+"=off")
		}
	}
	return opts
}

// syncTree makes the snapshot durable before it is renamed into place.
func syncTree(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Syncfs(fd)
}
