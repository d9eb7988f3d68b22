package ops

import (
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/xbuild/xbuild/buildcontext"
)

// copyParents copies the match m under dest keeping its path below pivot
// (COPY --parents): the directories in between are made with the source
// directories' metadata.
func (c *copier) copyParents(m buildcontext.Match, dest, pivot string) error {
	fi, err := os.Lstat(c.src.Path(m.Path))
	if err != nil {
		return err
	}
	rel := m.Name
	if pivot != "" {
		rel = strings.TrimPrefix(strings.TrimPrefix(rel, pivot), "/")
	}
	cur, err := mkdirAll(c.root, dest, 0o755, c.owner)
	if err != nil {
		return err
	}
	if rel == "" {
		if !fi.IsDir() {
			return c.copyEntry(m.Path, fi, filepath.Join(cur, path.Base(m.Name)))
		}
		return c.walkInto(m, cur)
	}
	parts := strings.Split(rel, "/")
	srcPrefix := pivot
	for _, part := range parts[:len(parts)-1] {
		srcPrefix = path.Join(srcPrefix, part)
		cur = filepath.Join(cur, part)
		if _, err := os.Lstat(cur); err == nil {
			continue
		}
		ms, err := c.src.Match(srcPrefix, false)
		if err != nil {
			return err
		}
		dfi, err := os.Stat(c.src.Path(ms[0].Path))
		if err != nil {
			return err
		}
		if err := c.copyEntry(ms[0].Path, dfi, cur); err != nil {
			return err
		}
	}
	target := filepath.Join(cur, parts[len(parts)-1])
	if fi.IsDir() {
		if err := c.copyEntry(m.Path, fi, target); err != nil {
			return err
		}
		return c.walkInto(m, target)
	}
	if c.excl.Excluded(m, m.Path, false) {
		return nil
	}
	return c.copyEntry(m.Path, fi, target)
}
