package executor

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/xbuild/xbuild/snapshot"
	"golang.org/x/sys/unix"
)

// sandbox is the init's view of one run: what it mounted inside the rootfs
// and which mount points it had to create, to undo both at the end.
type sandbox struct {
	cfg    *initConfig
	prefix string   // where the rootfs is: cfg.Rootfs before pivot_root, "/" after
	mounts []string // in-root mount points, in mount order
	stubs  stubs
}

// host maps an in-root path to the current view.
func (s *sandbox) host(rel string) string {
	return filepath.Join(s.prefix, rel)
}

// setup builds the sandbox's filesystem and pivots into it. It runs in the
// init's fresh mount namespace, so nothing it mounts is seen by the host.
func (s *sandbox) setup() error {
	unix.Umask(0)
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}
	if err := snapshot.MountAt(s.cfg.Root, s.cfg.Rootfs); err != nil {
		return fmt.Errorf("mount rootfs: %w", err)
	}
	steps := []func() error{s.mountProc, s.mountDev, s.mountSys, s.mountFiles, s.mountExtra, s.mask, s.pivot}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	if err := unix.Sethostname([]byte(s.cfg.Hostname)); err != nil {
		return fmt.Errorf("set hostname: %w", err)
	}
	if s.cfg.NetNS {
		return loopbackUp()
	}
	return nil
}

// teardown unmounts what setup mounted inside the rootfs (newest first) and
// removes the mount points it created. The rootfs mount itself goes away
// with the mount namespace.
func (s *sandbox) teardown() {
	for i := len(s.mounts) - 1; i >= 0; i-- {
		unix.Unmount(s.host(s.mounts[i]), unix.MNT_DETACH)
	}
	s.stubs.remove(s.prefix)
}

// target resolves p inside the rootfs and creates it (a directory, or an
// empty file) when missing.
func (s *sandbox) target(p string, dir bool) (string, error) {
	rel, err := resolveIn(s.prefix, p)
	if err != nil {
		return "", fmt.Errorf("mount point %s: %w", p, err)
	}
	if err := s.stubs.ensure(s.prefix, rel, dir); err != nil {
		return "", fmt.Errorf("create mount point %s: %w", p, err)
	}
	return rel, nil
}

// mountAt mounts at the in-root path rel and records it.
func (s *sandbox) mountAt(src, rel, fstype string, flags uintptr, data string) error {
	if err := unix.Mount(src, s.host(rel), fstype, flags, data); err != nil {
		return fmt.Errorf("mount %s on %s: %w", fstype, rel, err)
	}
	s.mounts = append(s.mounts, rel)
	return nil
}

// bindAt bind-mounts the host path src at rel with options.
func (s *sandbox) bindAt(src, rel string, options []string) error {
	o := parseMountOptions(options)
	flags := uintptr(unix.MS_BIND)
	if o.recursive {
		flags |= unix.MS_REC
	}
	if err := unix.Mount(src, s.host(rel), "", flags, ""); err != nil {
		return fmt.Errorf("bind %s on %s: %w", src, rel, err)
	}
	s.mounts = append(s.mounts, rel)
	if o.attr == 0 {
		return nil
	}
	return setMountAttr(s.host(rel), o, flags)
}

// setMountAttr applies ro/nosuid/nodev/noexec to a bind mount (and, for
// rbind, to everything under it).
func setMountAttr(host string, o mountOptions, bindFlags uintptr) error {
	var at uint
	if o.recursive {
		at = unix.AT_RECURSIVE
	}
	err := unix.MountSetattr(unix.AT_FDCWD, host, at, &unix.MountAttr{Attr_set: o.attr})
	if err == unix.ENOSYS {
		err = unix.Mount("", host, "", bindFlags|unix.MS_REMOUNT|o.flags, "")
	}
	if err != nil {
		return fmt.Errorf("set options of %s: %w", host, err)
	}
	return nil
}

type mountOptions struct {
	flags     uintptr // MS_RDONLY, MS_NOSUID, …
	attr      uint64  // the same as MOUNT_ATTR_*
	recursive bool
	data      string // the rest, comma-separated (size=…, mode=…)
}

func parseMountOptions(options []string) mountOptions {
	var o mountOptions
	add := func(flag uintptr, attr uint64) {
		o.flags |= flag
		o.attr |= attr
	}
	for _, opt := range options {
		switch opt {
		case "ro":
			add(unix.MS_RDONLY, unix.MOUNT_ATTR_RDONLY)
		case "nosuid":
			add(unix.MS_NOSUID, unix.MOUNT_ATTR_NOSUID)
		case "nodev":
			add(unix.MS_NODEV, unix.MOUNT_ATTR_NODEV)
		case "noexec":
			add(unix.MS_NOEXEC, unix.MOUNT_ATTR_NOEXEC)
		case "rbind":
			o.recursive = true
		case "bind", "rw":
		default:
			if o.data != "" {
				o.data += ","
			}
			o.data += opt
		}
	}
	return o
}

// mountFiles binds the generated hosts, hostname and resolv.conf read-only,
// as BuildKit does.
func (s *sandbox) mountFiles() error {
	for _, f := range s.cfg.Files {
		rel, err := s.target(f.Target, false)
		if err != nil {
			return err
		}
		if err := s.bindAt(f.Source, rel, []string{"ro"}); err != nil {
			return err
		}
	}
	return nil
}

// mountExtra makes the caller's mounts.
func (s *sandbox) mountExtra() error {
	for _, m := range s.cfg.Mounts {
		if err := s.mountOne(m); err != nil {
			return err
		}
	}
	return nil
}

func (s *sandbox) mountOne(m Mount) error {
	dir := true
	if m.Type == "bind" {
		fi, err := os.Stat(m.Source)
		if err != nil {
			return fmt.Errorf("bind source for %s: %w", m.Target, err)
		}
		dir = fi.IsDir()
	}
	rel, err := s.target(m.Target, dir)
	if err != nil {
		return err
	}
	if m.Type == "bind" {
		return s.bindAt(m.Source, rel, m.Options)
	}
	o := parseMountOptions(m.Options)
	return s.mountAt("tmpfs", rel, "tmpfs", o.flags, o.data)
}

// pivot makes the rootfs the root and drops the old root, without needing
// a directory for it: pivot_root(".", ".") stacks the old root on top.
func (s *sandbox) pivot() error {
	oldRoot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open old root: %w", err)
	}
	defer unix.Close(oldRoot)
	if err := unix.Chdir(s.cfg.Rootfs); err != nil {
		return fmt.Errorf("enter rootfs: %w", err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Fchdir(oldRoot); err != nil {
		return fmt.Errorf("enter old root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("unmount old root: %w", err)
	}
	// Only now does "/" mean the rootfs; until then teardown keeps working
	// through the old path (and can never touch the host's files).
	s.prefix = "/"
	return unix.Chdir("/")
}

// loopbackUp brings lo up in a new network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err == nil {
		err = unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr)
	}
	if err == nil {
		ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
		err = unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
	}
	if err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	return nil
}
