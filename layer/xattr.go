package layer

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh."     // aufs metadata names; never real files
	opaqueMarker   = ".wh..wh..opq" // OCI opaque-directory marker
	paxXattr       = "SCHILY.xattr."
	overlayXattrNS = "trusted.overlay."
	opaqueXattr    = "trusted.overlay.opaque"
)

// xattr is one extended attribute.
type xattr struct {
	name  string
	value []byte
}

// listXattrs returns the extended attributes of path (not following a
// symlink), sorted by name.
func listXattrs(path string) ([]xattr, error) {
	names, err := llistxattr(path)
	if err != nil {
		return nil, err
	}
	out := make([]xattr, 0, len(names))
	for _, name := range names {
		v, err := lgetxattr(path, name)
		if errors.Is(err, unix.ENODATA) {
			continue // removed since the listing
		}
		if err != nil {
			return nil, fmt.Errorf("get xattr %s: %w", name, err)
		}
		out = append(out, xattr{name: name, value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

func llistxattr(path string) ([]string, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Llistxattr(path, buf)
		if errors.Is(err, unix.ERANGE) {
			buf = make([]byte, len(buf)*4)
			continue
		}
		if errors.Is(err, unix.ENOTSUP) {
			return nil, nil // the filesystem has no xattrs
		}
		if err != nil {
			return nil, fmt.Errorf("list xattrs: %w", err)
		}
		var names []string
		for _, s := range strings.Split(string(buf[:n]), "\x00") {
			if s != "" {
				names = append(names, s)
			}
		}
		return names, nil
	}
}

func lgetxattr(path, name string) ([]byte, error) {
	buf := make([]byte, 128)
	for {
		n, err := unix.Lgetxattr(path, name, buf)
		if errors.Is(err, unix.ERANGE) {
			buf = make([]byte, len(buf)*4)
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}

// isOverlayXattr reports whether name is overlayfs's private state, which
// never goes into a tar and is never taken from one.
func isOverlayXattr(name string) bool {
	return strings.HasPrefix(name, overlayXattrNS)
}

// isOpaque reports whether the directory at path carries
// trusted.overlay.opaque=y.
func isOpaque(path string) (bool, error) {
	v, err := lgetxattr(path, opaqueXattr)
	if errors.Is(err, unix.ENODATA) || errors.Is(err, unix.ENOTSUP) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("get xattr %s of %s: %w", opaqueXattr, path, err)
	}
	return string(v) == "y", nil
}

// sameXattrs reports whether the xattr PAX records of a header hold exactly
// the xattrs xs, trusted.overlay.* aside.
func sameXattrs(records map[string]string, xs []xattr) bool {
	n := 0
	for _, x := range xs {
		if isOverlayXattr(x.name) {
			continue
		}
		if v, ok := records[paxXattr+x.name]; !ok || v != string(x.value) {
			return false
		}
		n++
	}
	for k := range records {
		if strings.HasPrefix(k, paxXattr) {
			n--
		}
	}
	return n == 0
}
