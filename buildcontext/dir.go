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
	// reinclude holds the components of the "!" patterns.
	reinclude [][]string
}

// Match is one entry a source path selects.
type Match struct {
	Name string // as selected, relative to the root, symlinks not resolved: names the destination
	Path string // resolved inside the root (symlinks followed, never out of it): what is read
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
		for _, p := range d.pm.Patterns() {
			if p.Exclusion() {
				d.reinclude = append(d.reinclude, strings.Split(p.String(), "/"))
			}
		}
	}
	return d, nil
}

// Root is the host directory of the tree.
func (d *Dir) Root() string { return d.root }

// Path is the host path of rel, which must be a resolved path (a Match's
// Path or a path Walk reported).
func (d *Dir) Path(rel string) string { return filepath.Join(d.root, rel) }

func (d *Dir) excluded(rel string) bool {
	if d.pm == nil || rel == "" || rel == "." {
		return false
	}
	ok, err := d.pm.MatchesOrParentMatches(rel)
	return err == nil && ok
}

// mayReinclude reports whether a "!" pattern can match something below the
// excluded directory rel, so that it must be descended.
func (d *Dir) mayReinclude(rel string) bool {
	parts := strings.Split(rel, "/")
	for _, pat := range d.reinclude {
		if prefixMatches(pat, parts) {
			return true
		}
	}
	return false
}

func prefixMatches(pat, parts []string) bool {
	for i, p := range parts {
		if i >= len(pat) {
			return false
		}
		if pat[i] == "**" {
			return true
		}
		if ok, _ := path.Match(pat[i], p); !ok {
			return false
		}
	}
	return len(pat) > len(parts)
}

// Match expands src (relative to the root; may hold wildcards) into the
// entries it selects that exist and are not excluded, sorted by name. Every
// path is resolved inside the root: a symlink, even one pointing at an
// absolute path, never leads out of it. A wildcard that matches nothing
// yields no entries when allowEmpty is set, as BuildKit allows.
func (d *Dir) Match(src string, allowEmpty bool) ([]Match, error) {
	src = strings.TrimPrefix(path.Clean("/"+src), "/")
	if src == "" {
		return []Match{{Name: "", Path: ""}}, nil
	}
	if !hasMeta(src) {
		m, err := d.resolve(src)
		if err != nil {
			return nil, err
		}
		if d.excluded(m.Path) {
			return nil, fmt.Errorf("%q: %w (excluded by .dockerignore)", src, ErrNotFound)
		}
		return []Match{m}, nil
	}
	matches, err := d.glob(src)
	if err != nil {
		return nil, err
	}
	var out []Match
	for _, m := range matches {
		if !d.excluded(m.Path) {
			out = append(out, m)
		}
	}
	if len(out) == 0 && !allowEmpty {
		return nil, fmt.Errorf("%q: %w: no source files were specified", src, ErrNotFound)
	}
	return out, nil
}

// resolve follows symlinks in name inside the root and checks the result
// exists.
func (d *Dir) resolve(name string) (Match, error) {
	p, err := securejoin.SecureJoin(d.root, name)
	if err != nil {
		return Match{}, fmt.Errorf("%q: %w", name, err)
	}
	if _, err := os.Lstat(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Match{}, fmt.Errorf("%q: %w", name, ErrNotFound)
		}
		return Match{}, err
	}
	rel, err := filepath.Rel(d.root, p)
	if err != nil {
		return Match{}, err
	}
	if rel == "." {
		rel = ""
	}
	return Match{Name: name, Path: rel}, nil
}

// glob expands pattern one component at a time, listing each directory
// through its resolved path.
func (d *Dir) glob(pattern string) ([]Match, error) {
	cur := []Match{{}}
	for _, part := range strings.Split(pattern, "/") {
		var next []Match
		for _, base := range cur {
			names := []string{part}
			if hasMeta(part) {
				ents, err := readNames(d.Path(base.Path))
				if err != nil {
					continue
				}
				names = names[:0]
				for _, e := range ents {
					ok, err := path.Match(part, e)
					if err != nil {
						return nil, fmt.Errorf("bad pattern %q: %w", pattern, err)
					}
					if ok {
						names = append(names, e)
					}
				}
			}
			for _, n := range names {
				m, err := d.resolve(path.Join(base.Name, n))
				if err == nil {
					next = append(next, m)
				}
			}
		}
		cur = next
	}
	sort.Slice(cur, func(i, j int) bool { return cur[i].Name < cur[j].Name })
	return cur, nil
}

func hasMeta(s string) bool { return strings.ContainsAny(s, `*?[\`) }

// Walk calls fn for rel (a resolved path) and, if it is a directory,
// everything below it that is not excluded, parents before children, in
// lexical order, with Lstat information. Symlinks below rel are reported,
// not followed. A directory that is excluded but holds re-included entries
// is reported just before the first of them.
func (d *Dir) Walk(rel string, fn func(rel string, fi fs.FileInfo) error) error {
	fi, err := os.Lstat(d.Path(rel))
	if err != nil {
		return err
	}
	w := &walker{d: d, fn: fn}
	return w.walk(rel, fi)
}

type walker struct {
	d  *Dir
	fn func(string, fs.FileInfo) error
	// held are the excluded directories above the current entry; each is
	// reported when the first entry below it is.
	held []heldDir
}

type heldDir struct {
	rel      string
	fi       fs.FileInfo
	reported bool
}

func (w *walker) walk(rel string, fi fs.FileInfo) error {
	excluded := rel != "" && w.d.excluded(rel)
	if !excluded {
		for i := range w.held {
			if !w.held[i].reported {
				if err := w.fn(w.held[i].rel, w.held[i].fi); err != nil {
					return err
				}
				w.held[i].reported = true
			}
		}
		if err := w.fn(rel, fi); err != nil {
			if errors.Is(err, fs.SkipDir) {
				return nil
			}
			return err
		}
	}
	if !fi.IsDir() {
		return nil
	}
	if excluded {
		if !w.d.mayReinclude(rel) {
			return nil
		}
		w.held = append(w.held, heldDir{rel: rel, fi: fi})
		defer func() { w.held = w.held[:len(w.held)-1] }()
	}
	names, err := readNames(w.d.Path(rel))
	if err != nil {
		return err
	}
	for _, name := range names {
		child := path.Join(rel, name)
		cfi, err := os.Lstat(w.d.Path(child))
		if err != nil {
			return err
		}
		if err := w.walk(child, cfi); err != nil {
			return err
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
