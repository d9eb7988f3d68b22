package buildcontext

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/patternmatcher"
)

// ErrNotFound is returned when a source path selects nothing.
var ErrNotFound = errors.New("not found")

// Dir is a source tree: a directory and the patterns that hide parts of it.
type Dir struct {
	root string
	pm   *patternmatcher.PatternMatcher // nil: nothing excluded
}

// Open returns the tree at root with .dockerignore-style excludes.
func Open(root string, excludes []string) (*Dir, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	d := &Dir{root: abs}
	if len(excludes) > 0 {
		if d.pm, err = patternmatcher.New(excludes); err != nil {
			return nil, fmt.Errorf("parse .dockerignore patterns: %w", err)
		}
	}
	return d, nil
}

// Root is the host directory of the tree.
func (d *Dir) Root() string { return d.root }

// Path is the host path of rel.
func (d *Dir) Path(rel string) string { return filepath.Join(d.root, rel) }

func (d *Dir) excluded(rel string) bool {
	if d.pm == nil || rel == "" || rel == "." {
		return false
	}
	ok, err := d.pm.MatchesOrParentMatches(rel)
	return err == nil && ok
}

// Match expands src (relative to the root; may hold wildcards) into the
// relative paths of the existing, not excluded entries it selects, sorted.
// A symlink named directly by src is followed, inside the root.
func (d *Dir) Match(src string) ([]string, error) {
	src = strings.TrimPrefix(path.Clean("/"+src), "/")
	if src == "" {
		return []string{""}, nil
	}
	if !hasMeta(src) {
		rel, err := d.resolve(src)
		if err != nil {
			return nil, err
		}
		if d.excluded(rel) {
			return nil, fmt.Errorf("%q: %w (excluded by .dockerignore)", src, ErrNotFound)
		}
		return []string{rel}, nil
	}
	matches, err := d.glob(src)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range matches {
		if !d.excluded(m) {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%q: %w: no source files were specified", src, ErrNotFound)
	}
	return out, nil
}

// resolve follows symlinks in rel inside the root and checks it exists.
func (d *Dir) resolve(rel string) (string, error) {
	p, err := securejoin.SecureJoin(d.root, rel)
	if err != nil {
		return "", fmt.Errorf("%q: %w", rel, err)
	}
	if _, err := os.Lstat(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%q: %w", rel, ErrNotFound)
		}
		return "", err
	}
	out, err := filepath.Rel(d.root, p)
	if err != nil {
		return "", err
	}
	if out == "." {
		out = ""
	}
	return out, nil
}

func (d *Dir) glob(pattern string) ([]string, error) {
	parts := strings.Split(pattern, "/")
	cur := []string{""}
	for _, part := range parts {
		var next []string
		for _, base := range cur {
			if !hasMeta(part) {
				p := path.Join(base, part)
				if _, err := os.Lstat(d.Path(p)); err == nil {
					next = append(next, p)
				}
				continue
			}
			ents, err := os.ReadDir(d.Path(base))
			if err != nil {
				continue
			}
			for _, e := range ents {
				ok, err := path.Match(part, e.Name())
				if err != nil {
					return nil, fmt.Errorf("bad pattern %q: %w", pattern, err)
				}
				if ok {
					next = append(next, path.Join(base, e.Name()))
				}
			}
		}
		cur = next
	}
	sort.Strings(cur)
	return cur, nil
}

func hasMeta(s string) bool { return strings.ContainsAny(s, `*?[\`) }

// Walk calls fn for rel and, if it is a directory, everything below it that
// is not excluded, in lexical order, with Lstat information. fn may return
// fs.SkipDir for a directory.
func (d *Dir) Walk(rel string, fn func(rel string, fi fs.FileInfo) error) error {
	fi, err := os.Lstat(d.Path(rel))
	if err != nil {
		return err
	}
	return d.walk(rel, fi, fn)
}

func (d *Dir) walk(rel string, fi fs.FileInfo, fn func(string, fs.FileInfo) error) error {
	if err := fn(rel, fi); err != nil {
		if errors.Is(err, fs.SkipDir) {
			return nil
		}
		return err
	}
	if !fi.IsDir() {
		return nil
	}
	f, err := os.Open(d.Path(rel))
	if err != nil {
		return err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		child := path.Join(rel, name)
		if d.excluded(child) {
			if d.pm.Exclusions() {
				// A "!" pattern may re-include something below: descend
				// but report only what is not excluded.
				cfi, err := os.Lstat(d.Path(child))
				if err == nil && cfi.IsDir() {
					if err := d.walkExcluded(child, fn); err != nil {
						return err
					}
				}
			}
			continue
		}
		cfi, err := os.Lstat(d.Path(child))
		if err != nil {
			return err
		}
		if err := d.walk(child, cfi, fn); err != nil {
			return err
		}
	}
	return nil
}

// walkExcluded descends an excluded directory looking for re-included
// entries.
func (d *Dir) walkExcluded(rel string, fn func(string, fs.FileInfo) error) error {
	names, err := readNames(d.Path(rel))
	if err != nil {
		return nil
	}
	for _, name := range names {
		child := path.Join(rel, name)
		cfi, err := os.Lstat(d.Path(child))
		if err != nil {
			continue
		}
		if !d.excluded(child) {
			if err := d.walk(child, cfi, fn); err != nil {
				return err
			}
		} else if cfi.IsDir() {
			if err := d.walkExcluded(child, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

func readNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	sort.Strings(names)
	return names, err
}
