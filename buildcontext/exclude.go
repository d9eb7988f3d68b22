package buildcontext

import (
	"fmt"
	"path"
	"strings"

	"github.com/moby/patternmatcher"
)

// Excluder applies COPY --exclude patterns (.dockerignore syntax) to the
// entries below one source: a directory's entries by their path relative
// to it, a file by its name. A nil *Excluder excludes nothing.
type Excluder struct {
	pm *patternmatcher.PatternMatcher
}

// NewExcluder compiles patterns; it returns nil for none.
func NewExcluder(patterns []string) (*Excluder, error) {
	if len(patterns) == 0 {
		return nil, nil
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf("parse --exclude patterns: %w", err)
	}
	return &Excluder{pm: pm}, nil
}

// Excluded reports whether p, the path (as Walk reports it) of an entry
// of the match m, is excluded. The match itself counts only if it is not
// a directory.
func (e *Excluder) Excluded(m Match, p string, isDir bool) bool {
	if e == nil {
		return false
	}
	var rel string
	if p == m.Path {
		if m.Name == "" || isDir {
			return false
		}
		rel = path.Base(m.Name)
	} else {
		rel = strings.TrimPrefix(strings.TrimPrefix(p, m.Path), "/")
	}
	ok, err := e.pm.MatchesOrParentMatches(rel)
	return err == nil && ok
}
