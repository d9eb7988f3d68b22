package ops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/opencontainers/go-digest"

	"github.com/xbuild/xbuild/buildcontext"
	"github.com/xbuild/xbuild/cache"
	"github.com/xbuild/xbuild/llb"
	"github.com/xbuild/xbuild/snapshot"
	"github.com/xbuild/xbuild/solver"
)

// copyOp runs COPY and ADD.
type copyOp struct {
	env     *Env
	op      llb.CopyOp
	sums    []digest.Digest // contents of URLs without a checksum, as keyed
	commits []string        // git sources' commits, as keyed
	fetched []string        // files urlSums downloaded, one per entry of sums
}

func (o *copyOp) CacheKey(ctx context.Context, in []digest.Digest) (digest.Digest, error) {
	sums, err := o.urlSums(ctx)
	if err != nil {
		return "", err
	}
	commits, err := o.gitCommits(ctx)
	if err != nil {
		return "", err
	}
	return key(o.op, in, append(sums, commits...)...), nil
}

func (o *copyOp) Exec(ctx context.Context, in []solver.Result, log io.Writer) (solver.Result, error) {
	var src solver.Result
	if len(in) > 1 {
		src = in[1]
	}
	return o.env.onSnapshot(ctx, in[0], src, func(root string, tree *buildcontext.Dir) error {
		extra, cleanup, err := o.extraSources(ctx)
		defer cleanup()
		if err != nil {
			return err
		}
		c, err := newCopier(root, tree, o.op)
		if err != nil {
			return err
		}
		c.extra = extra
		if err := c.run(ctx); err != nil {
			return err
		}
		if o.op.FromCtx && len(o.op.Sources) > 0 {
			return o.env.checkCopyContext(ctx, o.op.Sources, o.op.Excludes)
		}
		return nil
	}, o.op.FromCtx && len(o.op.Sources) > 0)
}

// checkCopyContext is checkContext for a selection with --exclude
// patterns.
func (e *Env) checkCopyContext(ctx context.Context, srcs, excludes []string) error {
	if len(excludes) == 0 {
		return e.checkContext(ctx, srcs)
	}
	want, ok := e.ctxSums.Load(selectionKey(ctxSelection(srcs, excludes)))
	if !ok {
		return nil
	}
	got, err := e.Context.HashExcluding(ctx, srcs, excludes, e.Memo)
	if err != nil {
		return err
	}
	if got != want.(digest.Digest) {
		return fmt.Errorf("the build context changed while the build ran (%s); run the build again", strings.Join(srcs, ", "))
	}
	return nil
}

// ctxSelection is the selection a context source with COPY --exclude
// patterns is remembered under.
func ctxSelection(srcs, excludes []string) []string {
	if len(excludes) == 0 {
		return srcs
	}
	out := append([]string(nil), srcs...)
	return append(append(out, "\x01exclude"), excludes...)
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

// copier copies selected source entries into a mounted rootfs with the
// semantics of BuildKit's COPY.
type copier struct {
	root    string // mounted rootfs
	src     *buildcontext.Dir
	op      llb.CopyOp
	owner   *owner     // --chown, or nil
	chmod   *llb.Chmod // --chmod, or nil
	excl    *buildcontext.Excluder
	extra   []extraSource // heredocs and downloads, copied after src
	dirTime []dirTime
	links   map[[2]uint64]string // source dev/inode → first target, for hardlinks

	// per source group
	rootOwned bool // files get 0:0 without --chown (context, heredocs, URLs)
	unpack    bool // ADD: local archives are unpacked
}

// extraSource is a temp directory holding files made for the copy.
type extraSource struct {
	dir    *buildcontext.Dir
	names  []string
	tree   string // a git checkout: copy the contents of this dir ("" = all)
	unpack bool   // downloaded archives with ADD --unpack=true
}

// group is one tree's matches, with the pivot of each (for --parents).
type group struct {
	dir       *buildcontext.Dir
	matches   []buildcontext.Match
	pivots    []string
	rootOwned bool
	extract   bool
	parents   bool
}

type dirTime struct {
	path string
	fi   os.FileInfo
}

func newCopier(root string, src *buildcontext.Dir, op llb.CopyOp) (*copier, error) {
	c := &copier{root: root, src: src, op: op, links: map[[2]uint64]string{}}
	var err error
	if c.owner, err = resolveOwner(root, op.Chown, true); err != nil {
		return nil, err
	}
	if op.Chmod != "" {
		m, err := llb.ParseChmod(op.Chmod)
		if err != nil {
			return nil, err
		}
		c.chmod = &m
	}
	if c.excl, err = buildcontext.NewExcluder(op.Excludes); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *copier) groups() ([]group, int, error) {
	var gs []group
	n := 0
	if c.src != nil && len(c.op.Sources) > 0 {
		g := group{dir: c.src, rootOwned: c.op.FromCtx, extract: c.op.Extract && c.op.FromCtx, parents: c.op.Parents}
		for i, s := range c.op.Sources {
			ms, err := c.src.Match(s, c.op.AllowEmpty)
			if err != nil {
				return nil, 0, err
			}
			pivot := ""
			if i < len(c.op.Pivots) {
				pivot = strings.Trim(c.op.Pivots[i], "/")
			}
			for _, m := range ms {
				g.matches = append(g.matches, m)
				g.pivots = append(g.pivots, pivot)
			}
		}
		n += len(g.matches)
		gs = append(gs, g)
	}
	for _, e := range c.extra {
		g := group{dir: e.dir, rootOwned: true, extract: e.unpack}
		if e.names == nil {
			g.matches = append(g.matches, buildcontext.Match{Name: e.tree, Path: e.tree})
			g.pivots = append(g.pivots, "")
		}
		for _, name := range e.names {
			g.matches = append(g.matches, buildcontext.Match{Name: name, Path: name})
			g.pivots = append(g.pivots, "")
		}
		n += len(g.matches)
		gs = append(gs, g)
	}
	return gs, n, nil
}

func (c *copier) run(ctx context.Context) error {
	gs, n, err := c.groups()
	if err != nil {
		return err
	}
	dest := filepath.Clean(c.op.Dest)
	intoDir := strings.HasSuffix(c.op.Dest, "/") || c.op.Parents
	if n > 1 && !intoDir {
		if !isDir(c.root, dest) {
			return fmt.Errorf("when using COPY with more than one source file, the destination must be a directory and end with a /")
		}
		intoDir = true
	}
	for _, g := range gs {
		c.src, c.rootOwned, c.unpack = g.dir, g.rootOwned, g.extract
		for i, m := range g.matches {
			if err := ctx.Err(); err != nil {
				return err
			}
			var err error
			if g.parents {
				err = c.copyParents(m, dest, g.pivots[i])
			} else {
				err = c.copyMatch(ctx, m, dest, intoDir)
			}
			if err != nil {
				return err
			}
		}
	}
	return c.fixDirTimes()
}

// walkInto copies the entries below the directory match m into top,
// leaving out what --exclude matches.
func (c *copier) walkInto(m buildcontext.Match, top string) error {
	return c.src.Walk(m.Path, func(p string, fi os.FileInfo) error {
		if p == m.Path {
			return nil
		}
		if c.excl.Excluded(m, p, fi.IsDir()) {
			if fi.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		sub := strings.TrimPrefix(strings.TrimPrefix(p, m.Path), "/")
		return c.copyEntry(p, fi, filepath.Join(top, sub))
	})
}

func (c *copier) copyMatch(ctx context.Context, m buildcontext.Match, dest string, intoDir bool) error {
	fi, err := os.Lstat(c.src.Path(m.Path))
	if err != nil {
		return err
	}
	if fi.IsDir() {
		top, err := c.topDir(dest, fi)
		if err != nil {
			return err
		}
		return c.walkInto(m, top)
	}
	if c.excl.Excluded(m, m.Path, false) {
		return nil
	}
	if c.unpack {
		if ok, err := c.extract(ctx, m.Path, dest); ok || err != nil {
			return err
		}
	}
	var target string
	if intoDir || isDir(c.root, dest) {
		parent, err := mkdirAll(c.root, dest, 0o755, c.owner)
		if err != nil {
			return err
		}
		// The entry itself is not followed: it replaces what is there.
		target = filepath.Join(parent, filepath.Base(m.Name))
	} else {
		if _, err := mkdirAll(c.root, filepath.Dir(dest), 0o755, c.owner); err != nil {
			return err
		}
		// A destination file path is resolved inside the rootfs, so a
		// symlink there is written through, as BuildKit does.
		if target, err = securePath(c.root, dest); err != nil {
			return err
		}
	}
	return c.copyEntry(m.Path, fi, target)
}

// topDir resolves (following symlinks inside the rootfs) the directory a
// directory's contents are copied into, creating it with the source
// directory's metadata if it is missing.
func (c *copier) topDir(dest string, fi os.FileInfo) (string, error) {
	if _, err := mkdirAll(c.root, filepath.Dir(dest), 0o755, c.owner); err != nil {
		return "", err
	}
	target, err := securePath(c.root, dest)
	if err != nil {
		return "", err
	}
	existing, err := os.Lstat(target)
	switch {
	case err == nil && existing.IsDir():
		return target, nil
	case err == nil:
		return "", fmt.Errorf("cannot copy to non-directory: %s", c.inImage(target))
	case !errors.Is(err, fs.ErrNotExist):
		return "", err
	}
	if err := os.Mkdir(target, 0o700); err != nil {
		return "", fmt.Errorf("mkdir %s: %w", c.inImage(target), err)
	}
	c.dirTime = append(c.dirTime, dirTime{target, fi})
	return target, c.setMeta(target, fi)
}

// copyEntry copies one entry (not recursively) to target, a host path in
// the rootfs whose parent is a real directory. Existing directories take
// the source's metadata; other existing entries are replaced, except that a
// directory is never replaced by a file or a file by a directory.
func (c *copier) copyEntry(rel string, fi os.FileInfo, target string) error {
	existing, err := os.Lstat(target)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	switch {
	case fi.Mode()&os.ModeSocket != 0:
		return nil
	case fi.IsDir() && exists && !existing.IsDir():
		return fmt.Errorf("cannot copy to non-directory: %s", c.inImage(target))
	case fi.IsDir():
		if !exists {
			if err := os.Mkdir(target, 0o700); err != nil {
				return fmt.Errorf("copy %s: %w", rel, err)
			}
		}
		c.dirTime = append(c.dirTime, dirTime{target, fi})
		if err := copyXattrs(c.src.Path(rel), target); err != nil {
			return err
		}
		return c.setMeta(target, fi)
	case exists && existing.IsDir():
		return fmt.Errorf("cannot replace to directory %s with file", c.inImage(target))
	case exists:
		if err := os.Remove(target); err != nil {
			return fmt.Errorf("copy %s: %w", rel, err)
		}
	}
	if c.hardlink(fi, target) {
		return nil
	}
	if err := createEntry(c.src.Path(rel), fi, target); err != nil {
		return fmt.Errorf("copy %s: %w", rel, err)
	}
	if err := copyXattrs(c.src.Path(rel), target); err != nil {
		return err
	}
	if err := c.setMeta(target, fi); err != nil {
		return err
	}
	return setTimes(target, fi)
}

// hardlink links target to an earlier copy of the same source inode and
// reports whether it did; otherwise it records target for later links.
func (c *copier) hardlink(fi os.FileInfo, target string) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || !fi.Mode().IsRegular() || st.Nlink < 2 {
		return false
	}
	k := [2]uint64{st.Dev, st.Ino}
	if first, ok := c.links[k]; ok {
		return os.Link(first, target) == nil
	}
	c.links[k] = target
	return false
}

// inImage turns a host path under the rootfs into the path users know.
func (c *copier) inImage(hostPath string) string {
	rel, err := filepath.Rel(c.root, hostPath)
	if err != nil || strings.HasPrefix(rel, "..") {
		return hostPath
	}
	return "/" + strings.TrimPrefix(rel, ".")
}

func (c *copier) setMeta(target string, fi os.FileInfo) error {
	uid, gid := 0, 0
	if c.owner != nil {
		uid, gid = c.owner.uid, c.owner.gid
	} else if !c.rootOwned {
		uid, gid = fileOwner(fi)
	}
	if err := os.Lchown(target, uid, gid); err != nil {
		return fmt.Errorf("chown %s: %w", c.inImage(target), err)
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		return nil
	}
	mode := fi.Mode() & (os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky)
	if c.chmod != nil {
		mode = llb.FileMode(c.chmod.Apply(llb.UnixMode(mode), fi.IsDir()))
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
