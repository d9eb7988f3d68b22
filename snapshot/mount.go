package snapshot

import (
	"fmt"
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
func MountAt(ms []Mount, target string) error {
	for _, m := range ms {
		flags, data := parseOptions(m.Options)
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
