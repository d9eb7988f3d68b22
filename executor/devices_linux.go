package executor

import (
	"fmt"
	"os"
	"path"

	"golang.org/x/sys/unix"
)

// devices are the character devices of the sandbox's /dev. Their numbers are
// fixed by the kernel ABI, so they are the host's as well.
var devices = []struct {
	name         string
	major, minor uint32
}{
	{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7},
	{"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
}

var devLinks = [][2]string{
	{"ptmx", "pts/ptmx"}, {"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"},
	{"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"},
}

// maskedPaths and readonlyPaths are Docker's defaults: a masked file gets
// /dev/null bound over it, a masked directory an empty read-only tmpfs.
var (
	maskedPaths = []string{
		"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
		"/sys/firmware", "/sys/devices/virtual/powercap",
	}
	readonlyPaths = []string{
		"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
	}
)

func (s *sandbox) mountProc() error {
	rel, err := s.target("/proc", true)
	if err != nil {
		return err
	}
	return s.mountAt("proc", rel, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
}

// mountDev makes a minimal /dev on a fresh tmpfs.
func (s *sandbox) mountDev() error {
	rel, err := s.target("/dev", true)
	if err != nil {
		return err
	}
	if err := s.mountAt("tmpfs", rel, "tmpfs", unix.MS_NOSUID|unix.MS_STRICTATIME, "mode=755,size=65536k"); err != nil {
		return err
	}
	dev := s.host(rel)
	for _, d := range devices {
		p := path.Join(dev, d.name)
		if err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(d.major, d.minor))); err != nil {
			return fmt.Errorf("mknod /dev/%s: %w", d.name, err)
		}
	}
	for _, l := range devLinks {
		if err := os.Symlink(l[1], path.Join(dev, l[0])); err != nil {
			return fmt.Errorf("dev link: %w", err)
		}
	}
	for _, d := range []string{"pts", "shm"} {
		if err := os.Mkdir(path.Join(dev, d), 0o755); err != nil {
			return fmt.Errorf("create /dev/%s: %w", d, err)
		}
	}
	err = s.mountAt("devpts", path.Join(rel, "pts"), "devpts", unix.MS_NOSUID|unix.MS_NOEXEC,
		"newinstance,ptmxmode=0666,mode=0620,gid=5")
	if err != nil {
		return err
	}
	return s.mountAt("shm", path.Join(rel, "shm"), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC,
		"mode=1777,size=65536k")
}

// mountSys mounts a read-only sysfs. The kernel may refuse a new sysfs for
// the host's network namespace (e.g. inside a container); the host's /sys,
// bound read-only, is the same view then.
func (s *sandbox) mountSys() error {
	rel, err := s.target("/sys", true)
	if err != nil {
		return err
	}
	flags := uintptr(unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	err = s.mountAt("sysfs", rel, "sysfs", flags, "")
	if err != nil && !s.cfg.NetNS {
		err = s.bindAt("/sys", rel, []string{"rbind", "ro", "nosuid", "nodev", "noexec"})
	}
	return err
}

// mask hides and write-protects /proc and /sys paths as Docker does; paths
// the kernel does not have are skipped.
func (s *sandbox) mask() error {
	for _, p := range maskedPaths {
		fi, err := os.Lstat(s.host(p))
		if err != nil {
			continue
		}
		if fi.IsDir() {
			err = s.mountAt("tmpfs", p, "tmpfs", unix.MS_RDONLY, "size=0k")
		} else {
			err = s.bindAt("/dev/null", p, nil)
		}
		if err != nil {
			return fmt.Errorf("mask %s: %w", p, err)
		}
	}
	for _, p := range readonlyPaths {
		if _, err := os.Lstat(s.host(p)); err != nil {
			continue
		}
		if err := s.bindAt(s.host(p), p, []string{"rbind", "ro", "nosuid", "nodev", "noexec"}); err != nil {
			return fmt.Errorf("make %s read-only: %w", p, err)
		}
	}
	return nil
}
