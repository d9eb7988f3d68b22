package snapshot

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// Target is a set of mounts to present at a directory.
type Target struct {
	Mounts []Mount
	Dir    string
}

// WithMounted mounts each target and calls fn, all on one OS thread that
// has its own mount namespace: the mounts are invisible to the rest of the
// host and vanish with the thread, even if the process is killed.
//
// fn must do its file operations on the calling goroutine: another
// goroutine may run on a thread that does not see the mounts.
func WithMounted(targets []Target, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		// The thread is never unlocked, so the runtime destroys it (and
		// its mount namespace) when this goroutine returns.
		runtime.LockOSThread()
		errc <- withMounted(targets, fn)
	}()
	return <-errc
}

func withMounted(targets []Target, fn func() error) error {
	if err := unix.Unshare(unix.CLONE_NEWNS | unix.CLONE_FS); err != nil {
		return fmt.Errorf("unshare mount namespace: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	for _, t := range targets {
		if err := MountAt(t.Mounts, t.Dir); err != nil {
			return err
		}
	}
	err := fn()
	for i := len(targets) - 1; i >= 0; i-- {
		unix.Unmount(targets[i].Dir, unix.MNT_DETACH)
	}
	return err
}
