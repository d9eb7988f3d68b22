package ops

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/xbuild/xbuild/buildcontext"
	"github.com/xbuild/xbuild/cache"
	"github.com/xbuild/xbuild/llb"
	"github.com/xbuild/xbuild/snapshot"
	"github.com/xbuild/xbuild/solver"
)

// copyOp runs COPY and ADD.
type copyOp struct {
	env *Env
	op  llb.CopyOp
}

func (o *copyOp) CacheKey(ctx context.Context, in []digest.Digest) (digest.Digest, error) {
	return key(o.op, in), nil
}

func (o *copyOp) Exec(ctx context.Context, in []solver.Result, log io.Writer) (solver.Result, error) {
	return o.env.onSnapshot(ctx, in[0], in[1], func(root string, src *buildcontext.Dir) error {
		c, err := newCopier(root, src, o.op)
		if err != nil {
			return err
		}
		return c.run(ctx)
	}, o.op.FromCtx)
}

// mkdirOp runs WORKDIR's mkdir -p.
type mkdirOp struct {
	env *Env
	op  llb.MkdirOp
}

func (o *mkdirOp) CacheKey(ctx context.Context, in []digest.Digest) (digest.Digest, error) {
	return key(o.op, in), nil
}

func (o *mkdirOp) Exec(ctx context.Context, in []solver.Result, log io.Writer) (solver.Result, error) {
	return o.env.onSnapshot(ctx, in[0], nil, func(root string, _ *buildcontext.Dir) error {
		own, err := resolveOwner(root, o.op.User, false)
		if err != nil {
			return err
		}
		_, err = mkdirAll(root, o.op.Path, os.FileMode(o.op.Mode), own)
		return err
	}, false)
}

// onSnapshot prepares a snapshot over base, mounts it (and the source
// snapshot src, if any) in a private mount namespace, runs fn on it and
// commits the result as a layer.
func (e *Env) onSnapshot(ctx context.Context, base, src *cache.Record, fn func(root string, src *buildcontext.Dir) error, fromCtx bool) (*cache.Record, error) {
	s := e.Snapshots
	key := s.NewKey()
	mounts, err := s.Prepare(ctx, key, base.Snapshot)
	if err != nil {
		return nil, err
	}
	tmp, err := e.Root.TempDir("mnt")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	rootDir, srcDir := filepath.Join(tmp, "root"), filepath.Join(tmp, "src")
	for _, d := range []string{rootDir, srcDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return nil, err
		}
	}
	targets := []snapshot.Target{{Mounts: mounts, Dir: rootDir}}
	var tree *buildcontext.Dir
	switch {
	case fromCtx:
		tree = e.Context
	case src != nil:
		if src.Snapshot != "" {
			view, err := s.View(ctx, src.Snapshot)
			if err != nil {
				return nil, err
			}
			targets = append(targets, snapshot.Target{Mounts: view, Dir: srcDir})
		}
		if tree, err = buildcontext.Open(srcDir, nil); err != nil {
			return nil, err
		}
	}
	err = snapshot.WithMounted(targets, func() error { return fn(rootDir, tree) })
	if err != nil {
		s.Remove(context.WithoutCancel(ctx), key)
		return nil, err
	}
	rec, err := e.commit(ctx, key, base)
	if err != nil {
		s.Remove(context.WithoutCancel(ctx), key)
	}
	return rec, err
}

// copier copies selected source entries into a mounted rootfs with
// `docker build` COPY semantics.
type copier struct {
	root    string // mounted rootfs
	src     *buildcontext.Dir
	op      llb.CopyOp
	owner   *owner       // --chown, or nil
	mode    *os.FileMode // --chmod, or nil
	dirTime []dirTime
}

type dirTime struct {
	path string
	fi   os.FileInfo
}

func newCopier(root string, src *buildcontext.Dir, op llb.CopyOp) (*copier, error) {
	c := &copier{root: root, src: src, op: op}
	var err error
	if c.owner, err = resolveOwner(root, op.Chown, true); err != nil {
		return nil, err
	}
	if op.Chmod != "" {
		m, err := strconv.ParseUint(op.Chmod, 8, 32)
		if err != nil {
			return nil, fmt.Errorf("invalid --chmod %q", op.Chmod)
		}
		mode := unixToGoMode(uint32(m))
		c.mode = &mode
	}
	return c, nil
}

func (c *copier) run(ctx context.Context) error {
	var matches []string
	for _, s := range c.op.Sources {
		ms, err := c.src.Match(s)
		if err != nil {
			return err
		}
		matches = append(matches, ms...)
	}
	intoDir := strings.HasSuffix(c.op.Dest, "/")
	if len(matches) > 1 && !intoDir {
		return fmt.Errorf("when using COPY with more than one source file, the destination must be a directory and end with a /")
	}
	for _, m := range matches {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := c.copyMatch(m, intoDir); err != nil {
			return err
		}
	}
	return c.fixDirTimes()
}

func (c *copier) copyMatch(rel string, intoDir bool) error {
	fi, err := os.Stat(c.src.Path(rel))
	if err != nil {
		fi, err = os.Lstat(c.src.Path(rel))
		if err != nil {
			return err
		}
	}
	dest := filepath.Clean(c.op.Dest)
	if fi.IsDir() {
		if _, err := mkdirAll(c.root, dest, 0o755, c.owner); err != nil {
			return err
		}
		return c.src.Walk(rel, func(p string, fi os.FileInfo) error {
			if p == rel {
				return nil
			}
			sub := strings.TrimPrefix(p, rel)
			sub = strings.TrimPrefix(sub, "/")
			return c.copyEntry(p, fi, filepath.Join(dest, sub))
		})
	}
	if c.op.Extract && c.op.FromCtx {
		if ok, err := c.extract(rel, dest); ok || err != nil {
			return err
		}
	}
	if intoDir || isDir(c.root, dest) {
		dest = filepath.Join(dest, filepath.Base(rel))
	}
	if _, err := mkdirAll(c.root, filepath.Dir(dest), 0o755, c.owner); err != nil {
		return err
	}
	return c.copyEntry(rel, fi, dest)
}

// copyEntry copies one entry (not recursively) to dest in the rootfs.
func (c *copier) copyEntry(rel string, fi os.FileInfo, dest string) error {
	target, err := c.targetPath(dest)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		if existing, err := os.Lstat(target); err == nil && existing.IsDir() {
			return nil
		}
		os.RemoveAll(target)
		if err := os.Mkdir(target, 0o700); err != nil {
			return fmt.Errorf("copy %s: %w", rel, err)
		}
		c.dirTime = append(c.dirTime, dirTime{target, fi})
		return c.setMeta(target, fi)
	}
	if existing, err := os.Lstat(target); err == nil {
		if existing.IsDir() {
			err = os.RemoveAll(target)
		} else {
			err = os.Remove(target)
		}
		if err != nil {
			return fmt.Errorf("copy %s: replace %s: %w", rel, dest, err)
		}
	}
	if err := createEntry(c.src.Path(rel), fi, target); err != nil {
		return fmt.Errorf("copy %s: %w", rel, err)
	}
	if err := c.setMeta(target, fi); err != nil {
		return err
	}
	return setTimes(target, fi)
}

// targetPath resolves dest's parent inside the rootfs (symlinks cannot
// lead out of it) and appends the last element unresolved, so an entry
// replaces what is there rather than writing through a symlink.
func (c *copier) targetPath(dest string) (string, error) {
	parent, err := securePath(c.root, filepath.Dir(dest))
	if err != nil {
		return "", err
	}
	return filepath.Join(parent, filepath.Base(dest)), nil
}

func (c *copier) setMeta(target string, fi os.FileInfo) error {
	uid, gid := 0, 0
	if c.owner != nil {
		uid, gid = c.owner.uid, c.owner.gid
	} else if !c.op.FromCtx {
		uid, gid = fileOwner(fi)
	}
	if err := os.Lchown(target, uid, gid); err != nil {
		return fmt.Errorf("chown %s: %w", target, err)
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		return nil
	}
	mode := fi.Mode() & (os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky)
	if c.mode != nil {
		mode = *c.mode
	}
	return os.Chmod(target, mode)
}

func (c *copier) fixDirTimes() error {
	for i := len(c.dirTime) - 1; i >= 0; i-- {
		if err := setTimes(c.dirTime[i].path, c.dirTime[i].fi); err != nil {
			return err
		}
	}
	return nil
}
