package layer

import (
	"archive/tar"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// setLowers checks that every lower dir is a directory and keeps them,
// cleaned, for the walk.
func (d *differ) setLowers(lowers []string) error {
	for _, l := range lowers {
		fi, err := os.Stat(l)
		if err != nil {
			return fmt.Errorf("lower dir: %w", err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("lower dir %s: not a directory", l)
		}
		d.lowers = append(d.lowers, filepath.Clean(l))
	}
	return nil
}

// copiedUp reports whether the upper dir name, with stat st and header hdr,
// is a directory of the lowers that overlay only copied up: not opaque, and
// the same type and mode, owner, nanosecond mtime and xattrs as in the
// merged lowers. Below an opaque dir or a dir the lowers do not have, the
// lowers do not show through, so nothing there is copied up; the walk is
// depth first, so one such subtree at a time is remembered.
func (d *differ) copiedUp(name string, st *unix.Stat_t, hdr *tar.Header, opaque bool) (bool, error) {
	if d.fresh != "" && strings.HasPrefix(hdr.Name, d.fresh) {
		return false, nil
	}
	if opaque {
		d.fresh = hdr.Name
		return false, nil
	}
	lp, lst, ok, err := d.lookupLower(name)
	if err != nil {
		return false, err
	}
	if !ok {
		d.fresh = hdr.Name
		return false, nil
	}
	if lst.Mode != st.Mode || lst.Uid != st.Uid || lst.Gid != st.Gid || lst.Mtim != st.Mtim {
		return false, nil
	}
	xs, err := listXattrs(lp)
	if err != nil {
		return false, fmt.Errorf("lower %s: %w", lp, err)
	}
	return sameXattrs(hdr.PAXRecords, xs), nil
}

// lookupLower finds name in the merged view of the lowers, the way overlay
// does: the top lower holding name wins; a whiteout or a non-directory at
// name or an ancestor, or a missing name under an opaque ancestor, hides
// name in every deeper lower. It returns the path and stat of the winner.
func (d *differ) lookupLower(name string) (string, *unix.Stat_t, bool, error) {
	parts := strings.Split(name, "/")
	for _, root := range d.lowers {
		p, st, res, err := lookupIn(root, parts)
		if err != nil || res == lookupFound {
			return p, st, err == nil, err
		}
		if res == lookupHidden {
			break
		}
	}
	return "", nil, false, nil
}

type lookupResult int

const (
	lookupAbsent lookupResult = iota // not in this lower: look deeper
	lookupHidden                     // not in this lower, nor in deeper ones
	lookupFound
)

// lookupIn looks the path parts up in the single lower root.
func lookupIn(root string, parts []string) (string, *unix.Stat_t, lookupResult, error) {
	p, opaque := root, false
	for i, part := range parts {
		p += "/" + part
		var st unix.Stat_t
		err := unix.Lstat(p, &st)
		switch {
		case errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR):
			if opaque {
				return "", nil, lookupHidden, nil
			}
			return "", nil, lookupAbsent, nil
		case err != nil:
			return "", nil, 0, fmt.Errorf("lstat lower: %w", err)
		case st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0:
			return "", nil, lookupHidden, nil // whiteout
		case i == len(parts)-1:
			return p, &st, lookupFound, nil
		case st.Mode&unix.S_IFMT != unix.S_IFDIR:
			return "", nil, lookupHidden, nil
		}
		if !opaque {
			if opaque, err = isOpaque(p); err != nil {
				return "", nil, 0, err
			}
		}
	}
	return "", nil, lookupAbsent, nil // no parts: the root is not looked up
}
