package ops

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"

	"github.com/xbuild/xbuild/executor"
	"github.com/xbuild/xbuild/llb"
	"github.com/xbuild/xbuild/solver"
)

// Secrets maps secret IDs (of --secret) to their values. Values reach RUN
// steps only through RUN --mount=type=secret; they are never part of a
// digest, a cache key, a layer or the progress output.
type Secrets map[string][]byte

// ResolveWithSecrets is e.Resolve with sec given to RUN steps.
func ResolveWithSecrets(e *Env, sec Secrets) solver.Resolver {
	return func(v *llb.Vertex) (solver.Op, error) {
		op, err := e.Resolve(v)
		if eo, ok := op.(*execOp); ok {
			eo.secrets = sec
		}
		return op, err
	}
}

// runMounts holds what a RUN's --mount flags set up on the host, and
// undoes it.
type runMounts struct {
	mounts  []executor.Mount
	env     []string // secret env variables: NAME=value
	cleanup []func()
}

// release unmounts and removes everything, last first.
func (r *runMounts) release() {
	for i := len(r.cleanup) - 1; i >= 0; i-- {
		r.cleanup[i]()
	}
	r.cleanup = nil
}

// setupMounts prepares the RUN --mount mounts of o. The caller must call
// release on the result, also on error.
func (o *execOp) setupMounts(ctx context.Context, in []solver.Result) (*runMounts, error) {
	r := &runMounts{}
	for _, m := range o.op.Mounts {
		var err error
		switch m.Type {
		case "cache":
			err = o.cacheMount(ctx, r, m)
		case "tmpfs":
			opts := []string{"nosuid", "nodev"}
			if m.Size > 0 {
				opts = append(opts, "size="+strconv.FormatInt(m.Size, 10))
			}
			r.mounts = append(r.mounts, executor.Mount{Target: m.Target, Type: "tmpfs", Options: opts})
		case "secret":
			err = o.secretMount(r, m)
		case "file":
			err = o.fileMount(r, m)
		case "bind":
			if m.Input <= 0 || m.Input >= len(in) {
				return r, fmt.Errorf("bind mount of %s: bad input %d", m.Target, m.Input)
			}
			err = o.bindMount(r, m, in[m.Input].Snapshot)
		default:
			err = fmt.Errorf("unsupported mount type %q", m.Type)
		}
		if err != nil {
			return r, err
		}
	}
	return r, nil
}

// cacheMount binds the persistent cache directory of m.ID, made with m's
// owner and mode when new. Sharing "locked" (and "private", approximated
// as locked) holds an exclusive lock on it for the whole RUN.
func (o *execOp) cacheMount(ctx context.Context, r *runMounts, m llb.ExecMount) error {
	sum := sha256.Sum256([]byte(m.ID))
	dir := o.env.Root.Path("cache-mounts", hex.EncodeToString(sum[:]))
	if err := ensureCacheDir(dir, m); err != nil {
		return fmt.Errorf("cache mount %s: %w", m.ID, err)
	}
	if m.Sharing == "locked" || m.Sharing == "private" {
		unlock, err := lockDir(ctx, dir)
		if err != nil {
			return fmt.Errorf("cache mount %s: %w", m.ID, err)
		}
		r.cleanup = append(r.cleanup, unlock)
	}
	opts := []string{"rbind"}
	if m.Readonly {
		opts = append(opts, "ro")
	}
	r.mounts = append(r.mounts, executor.Mount{Target: m.Target, Type: "bind", Source: dir, Options: opts})
	return nil
}

// ensureCacheDir creates dir with m's uid, gid and mode unless it exists;
// a new dir appears complete (made aside, then renamed).
func ensureCacheDir(dir string, m llb.ExecMount) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), fmt.Sprintf(".new-pid%d-", os.Getpid()))
	if err != nil {
		return err
	}
	if err := os.Chown(tmp, int(m.UID), int(m.GID)); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Chmod(tmp, fs.FileMode(m.Mode&0o777)|modeBits(m.Mode)); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.Remove(tmp)
		if _, serr := os.Stat(dir); serr == nil {
			return nil // made by another process meanwhile
		}
		return err
	}
	return nil
}

// modeBits maps the setuid, setgid and sticky bits of a Unix mode.
func modeBits(m uint32) fs.FileMode {
	var out fs.FileMode
	if m&0o4000 != 0 {
		out |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		out |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		out |= fs.ModeSticky
	}
	return out
}

// lockDir takes an exclusive flock on dir, waiting until it is free or
// ctx is done.
func lockDir(ctx context.Context, dir string) (func(), error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	for {
		err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { unix.Flock(fd, unix.LOCK_UN); unix.Close(fd) }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			unix.Close(fd)
			return nil, fmt.Errorf("lock: %w", err)
		}
		select {
		case <-ctx.Done():
			unix.Close(fd)
			return nil, context.Cause(ctx)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// secretMount exports a secret as a variable and/or a read-only file on a
// private tmpfs. A missing secret is skipped unless it is required.
func (o *execOp) secretMount(r *runMounts, m llb.ExecMount) error {
	val, ok := o.secrets[m.ID]
	if !ok {
		if m.Required {
			return fmt.Errorf("secret %s: not found", m.ID)
		}
		return nil
	}
	if m.Env != "" {
		r.env = append(r.env, m.Env+"="+string(val))
	}
	if m.Target == "" {
		return nil
	}
	dir, err := o.env.Root.TempDir("secret")
	if err != nil {
		return err
	}
	r.cleanup = append(r.cleanup, func() { os.RemoveAll(dir) })
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0700"); err != nil {
		return fmt.Errorf("secret %s: mount tmpfs: %w", m.ID, err)
	}
	r.cleanup = append(r.cleanup, func() { unix.Unmount(dir, unix.MNT_DETACH) })
	file := filepath.Join(dir, "secret")
	if err := os.WriteFile(file, val, 0o600); err != nil {
		return fmt.Errorf("secret %s: %w", m.ID, err)
	}
	if err := os.Chown(file, int(m.UID), int(m.GID)); err != nil {
		return fmt.Errorf("secret %s: %w", m.ID, err)
	}
	if err := os.Chmod(file, fs.FileMode(m.Mode&0o777)); err != nil {
		return fmt.Errorf("secret %s: %w", m.ID, err)
	}
	r.mounts = append(r.mounts, executor.Mount{Target: m.Target, Type: "bind", Source: file, Options: []string{"bind", "ro", "nosuid", "nodev", "noexec"}})
	return nil
}

// fileMount binds a read-only file holding m.Data (a RUN heredoc script
// with a shebang) at m.Target.
func (o *execOp) fileMount(r *runMounts, m llb.ExecMount) error {
	dir, err := o.env.Root.TempDir("heredoc")
	if err != nil {
		return err
	}
	r.cleanup = append(r.cleanup, func() { os.RemoveAll(dir) })
	file := filepath.Join(dir, "script")
	if err := os.WriteFile(file, []byte(m.Data), 0o600); err != nil {
		return err
	}
	if err := os.Chmod(file, fs.FileMode(m.Mode&0o777)); err != nil {
		return err
	}
	r.mounts = append(r.mounts, executor.Mount{Target: m.Target, Type: "bind", Source: file, Options: []string{"bind", "ro", "nosuid", "nodev"}})
	return nil
}

// bindMount binds m.Source of the context or of the committed snapshot
// snap. A read-write bind is an overlay whose writes are thrown away.
func (o *execOp) bindMount(r *runMounts, m llb.ExecMount, snap string) error {
	var lowers, hidden []string
	if m.Context {
		if o.env.Context == nil {
			return errors.New("bind mount: no build context")
		}
		lowers = []string{o.env.Context.Root()}
		var err error
		if hidden, err = o.ignoredBelow(strings.TrimPrefix(path.Clean("/"+m.Source), "/")); err != nil {
			return fmt.Errorf("bind mount of %s: source %s: %w", m.Target, m.Source, err)
		}
	} else if snap != "" {
		var err error
		if lowers, err = o.env.Snapshots.Lowers(snap); err != nil {
			return err
		}
	}
	var root string
	switch {
	case m.Readonly && len(lowers) == 1 && len(hidden) == 0:
		root = lowers[0]
	default:
		var err error
		if root, err = o.overlay(r, lowers, hidden); err != nil {
			return fmt.Errorf("bind mount of %s: %w", m.Target, err)
		}
	}
	src, err := securejoin.SecureJoin(root, m.Source)
	if err != nil {
		return fmt.Errorf("bind mount of %s: %w", m.Target, err)
	}
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("bind mount of %s: source %s: not found", m.Target, m.Source)
	}
	opts := []string{"rbind"}
	if m.Readonly {
		opts = append(opts, "ro")
	}
	r.mounts = append(r.mounts, executor.Mount{Target: m.Target, Type: "bind", Source: src, Options: opts})
	return nil
}

// ignoredBelow returns the paths at or below rel in the context that
// .dockerignore leaves out (the topmost of each excluded tree), so that a
// bind of the context shows what a COPY would see.
func (o *execOp) ignoredBelow(rel string) ([]string, error) {
	ctxDir := o.env.Context
	seen := map[string]bool{}
	err := ctxDir.Walk(rel, func(p string, _ fs.FileInfo) error {
		seen[p] = true
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) || (err == nil && !seen[rel]) {
		return nil, errors.New("not found")
	}
	if err != nil {
		return nil, err
	}
	var hidden []string
	var walk func(p string) error
	walk = func(p string) error {
		if !seen[p] {
			hidden = append(hidden, p)
			return nil
		}
		fi, err := os.Lstat(ctxDir.Path(p))
		if err != nil || !fi.IsDir() {
			return err
		}
		ents, err := os.ReadDir(ctxDir.Path(p))
		if err != nil {
			return err
		}
		for _, e := range ents {
			if err := walk(path.Join(p, e.Name())); err != nil {
				return err
			}
		}
		return nil
	}
	return hidden, walk(rel)
}

// overlay mounts lowers (top first) with a throw-away upper dir on the
// host and returns the mount point; no lowers give an empty dir. The
// hidden paths (relative to the lowers' root) are whited out.
func (o *execOp) overlay(r *runMounts, lowers, hidden []string) (string, error) {
	dir, err := o.env.Root.TempDir("runmount")
	if err != nil {
		return "", err
	}
	r.cleanup = append(r.cleanup, func() { os.RemoveAll(dir) })
	mnt := filepath.Join(dir, "mnt")
	for _, d := range []string{"upper", "work", "mnt"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return "", err
		}
	}
	if len(lowers) == 0 {
		return mnt, nil
	}
	if err := copyDirMeta(filepath.Join(dir, "upper"), lowers[0]); err != nil {
		return "", err
	}
	for _, h := range hidden {
		wh := filepath.Join(dir, "upper", filepath.FromSlash(h))
		if err := mkdirLike(filepath.Join(dir, "upper"), lowers[0], path.Dir(h)); err != nil {
			return "", err
		}
		if err := unix.Mknod(wh, unix.S_IFCHR, 0); err != nil {
			return "", fmt.Errorf("hide %s: %w", h, err)
		}
	}
	data := "lowerdir=" + strings.Join(lowers, ":") + ",upperdir=" + filepath.Join(dir, "upper") + ",workdir=" + filepath.Join(dir, "work")
	if err := unix.Mount("overlay", mnt, "overlay", 0, data); err != nil {
		return "", fmt.Errorf("mount overlay: %w", err)
	}
	r.cleanup = append(r.cleanup, func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	return mnt, nil
}

// mkdirLike creates rel (and its parents) under upper with the mode and
// owner the same dirs have under lower, so that the overlay shows them
// unchanged.
func mkdirLike(upper, lower, rel string) error {
	if rel == "." || rel == "/" || rel == "" {
		return nil
	}
	if err := mkdirLike(upper, lower, path.Dir(rel)); err != nil {
		return err
	}
	dst := filepath.Join(upper, filepath.FromSlash(rel))
	if _, err := os.Lstat(dst); err == nil {
		return nil
	}
	fi, err := os.Lstat(filepath.Join(lower, filepath.FromSlash(rel)))
	if err != nil {
		return err
	}
	if err := os.Mkdir(dst, 0o700); err != nil {
		return err
	}
	return setMetaFrom(dst, fi)
}

// copyDirMeta gives dir the mode and owner of src.
func copyDirMeta(dir, src string) error {
	fi, err := os.Lstat(src)
	if err != nil {
		return err
	}
	return setMetaFrom(dir, fi)
}

func setMetaFrom(dst string, fi fs.FileInfo) error {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if err := os.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
			return err
		}
	}
	return os.Chmod(dst, fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))
}
