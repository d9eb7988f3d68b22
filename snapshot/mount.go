package snapshot

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Mount describes one mount to make, in the form mount(2) takes it.
type Mount struct {
	Type    string   // "overlay" or "bind"
	Source  string   // "overlay" or the bind source directory
	Options []string // e.g. lowerdir=…, upperdir=…, workdir=… or rbind, ro
}

// MountAt mounts every mount in ms at target, in order. It is meant to run
// inside a private mount namespace; the caller unmounts (or lets the
// namespace die).
//
// Overlay options longer than a page cannot be passed to mount(2); for
// deep layer stacks MountAt changes the working directory to a directory of
// short links to the lower dirs, so the caller must own the process's (or,
// after unshare(CLONE_FS), the thread's) working directory.
func MountAt(ms []Mount, target string) error {
	target, err := filepath.Abs(target)
	if err != nil {
		return err
	}
	for _, m := range ms {
		flags, data := parseOptions(m.Options)
		cleanup := func() {}
		if m.Type == "overlay" && len(data) > 3000 {
			if data, cleanup, err = shortOverlayData(m.Options, target); err != nil {
				return err
			}
		}
		typ := m.Type
		if typ == "bind" {
			flags |= unix.MS_BIND
			typ = ""
		}
		err := unix.Mount(m.Source, target, typ, flags&^unix.MS_RDONLY, data)
		cleanup()
		if err != nil {
			return fmt.Errorf("mount %s at %s: %w", m.Type, target, err)
		}
		if m.Type == "bind" && flags&unix.MS_RDONLY != 0 {
			if err := unix.Mount("", target, "", flags|unix.MS_REMOUNT, ""); err != nil {
				return fmt.Errorf("remount %s read-only: %w", target, err)
			}
		}
	}
	return nil
}

// shortOverlayData makes the lower dirs reachable by short names — symlinks
// in a directory next to target — chdirs there and returns the option
// string using those names. Overlayfs resolves the links at mount time, so
// the directory is removed right after the mount.
func shortOverlayData(opts []string, target string) (string, func(), error) {
	linkDir := target + ".lowers"
	if err := os.Mkdir(linkDir, 0o700); err != nil {
		return "", nil, fmt.Errorf("overlay lower links: %w", err)
	}
	cleanup := func() { os.RemoveAll(linkDir) }
	var out []string
	for _, o := range opts {
		k, v, ok := strings.Cut(o, "=")
		if !ok || k != "lowerdir" {
			if _, d := parseOptions([]string{o}); d != "" {
				out = append(out, o)
			}
			continue
		}
		parts := strings.Split(v, ":")
		for i, p := range parts {
			name := strconv.FormatInt(int64(i), 36)
			if err := os.Symlink(p, filepath.Join(linkDir, name)); err != nil {
				cleanup()
				return "", nil, fmt.Errorf("overlay lower links: %w", err)
			}
			parts[i] = name
		}
		out = append(out, k+"="+strings.Join(parts, ":"))
	}
	if err := unix.Chdir(linkDir); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("chdir for overlay mount: %w", err)
	}
	return strings.Join(out, ","), cleanup, nil
}

func parseOptions(opts []string) (uintptr, string) {
	var flags uintptr
	var data []string
	for _, o := range opts {
		switch o {
		case "ro":
			flags |= unix.MS_RDONLY
		case "rw":
		case "bind":
			flags |= unix.MS_BIND
		case "rbind":
			flags |= unix.MS_BIND | unix.MS_REC
		case "nosuid":
			flags |= unix.MS_NOSUID
		case "nodev":
			flags |= unix.MS_NODEV
		case "noexec":
			flags |= unix.MS_NOEXEC
		default:
			data = append(data, o)
		}
	}
	return flags, strings.Join(data, ",")
}
