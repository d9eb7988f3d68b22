package snapshot

import (
	"fmt"
	"path/filepath"
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
// deep layer stacks MountAt changes the working directory to the snapshot
// directory and passes relative paths, so the caller must own the process's
// (or, after unshare(CLONE_FS), the thread's) working directory.
func MountAt(ms []Mount, target string) error {
	target, err := filepath.Abs(target)
	if err != nil {
		return err
	}
	for _, m := range ms {
		flags, data := parseOptions(m.Options)
		if m.Type == "overlay" && len(data) > 3000 {
			if data, err = relativeOverlayData(m.Options); err != nil {
				return err
			}
		}
		typ := m.Type
		if typ == "bind" {
			flags |= unix.MS_BIND
			typ = ""
		}
		if err := unix.Mount(m.Source, target, typ, flags&^unix.MS_RDONLY, data); err != nil {
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

// relativeOverlayData chdirs to the common parent of every overlay dir and
// returns the option string with paths relative to it.
func relativeOverlayData(opts []string) (string, error) {
	var dirs []string
	for _, o := range opts {
		k, v, _ := strings.Cut(o, "=")
		if k == "lowerdir" || k == "upperdir" || k == "workdir" {
			dirs = append(dirs, strings.Split(v, ":")...)
		}
	}
	base := commonDir(dirs)
	if err := unix.Chdir(base); err != nil {
		return "", fmt.Errorf("chdir for overlay mount: %w", err)
	}
	var out []string
	for _, o := range opts {
		k, v, ok := strings.Cut(o, "=")
		if !ok || (k != "lowerdir" && k != "upperdir" && k != "workdir") {
			if _, d := parseOptions([]string{o}); d != "" {
				out = append(out, o)
			}
			continue
		}
		parts := strings.Split(v, ":")
		for i, p := range parts {
			rel, err := filepath.Rel(base, p)
			if err != nil {
				return "", err
			}
			parts[i] = rel
		}
		out = append(out, k+"="+strings.Join(parts, ":"))
	}
	return strings.Join(out, ","), nil
}

func commonDir(paths []string) string {
	if len(paths) == 0 {
		return "/"
	}
	base := filepath.Dir(paths[0])
	for _, p := range paths[1:] {
		for base != "/" && !strings.HasPrefix(p, base+"/") {
			base = filepath.Dir(base)
		}
	}
	return base
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
