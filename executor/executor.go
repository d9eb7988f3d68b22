package executor

import (
	"context"
	"fmt"
	"io"
	"syscall"

	"github.com/xbuild/xbuild/snapshot"
)

// Process is what to run.
type Process struct {
	// Args is argv; Args[0] without a slash is looked up in the PATH of Env,
	// inside the rootfs.
	Args []string
	// Env is the complete environment. PATH (the usual default) and HOME
	// (from the user's passwd entry, else "/") are added when absent.
	Env []string
	// Cwd is absolute; it is created (mkdir -p, 0755, owned by root) inside
	// the rootfs when missing. "" means "/".
	Cwd string
	// User is "", "name", "uid", "name:group", "uid:gid", "name:gid" or
	// "uid:group"; "" means root.
	User string
	// Hostname "" means "buildkitsandbox".
	Hostname string
	// Network is "" or "host" to share the host's network namespace, or
	// "none" for a new network namespace with only lo up.
	Network string
	Stdin   io.Reader // nil means /dev/null
	Stdout  io.Writer // nil discards
	Stderr  io.Writer // nil discards
}

// Mount is an extra mount inside the rootfs (bind or tmpfs), made after the
// rootfs and before pivot_root.
type Mount struct {
	// Target is absolute inside the rootfs. It is created when missing (a
	// directory, or an empty file for a bind of a file) and removed again
	// afterwards when it was created.
	Target string
	// Type is "bind" or "tmpfs".
	Type string
	// Source is the host path of a bind.
	Source string
	// Options: "ro", "rbind", "nosuid", "nodev", "noexec", "size=…", "mode=…".
	Options []string
}

// ExitError is returned when the process ran and exited non-zero or was
// killed by a signal.
type ExitError struct {
	Code   int            // exit status, or 128+signal
	Signal syscall.Signal // 0 unless killed by a signal
}

func (e *ExitError) Error() string {
	if e.Signal != 0 {
		return fmt.Sprintf("killed by signal: %v", e.Signal)
	}
	return fmt.Sprintf("exit code: %d", e.Code)
}

// Executor runs one process over a root filesystem. A process that runs and
// fails returns *ExitError; any other error means it could not be started
// (or ctx was cancelled, in which case the error wraps context.Cause(ctx)).
type Executor interface {
	Run(ctx context.Context, root []snapshot.Mount, mounts []Mount, p Process) error
}

// Sandbox is the Linux namespace executor. It is safe for concurrent use:
// each Run has its own namespaces and scratch directory.
type Sandbox struct {
	tmpDir string
}

var _ Executor = (*Sandbox)(nil)

// New returns a Sandbox that keeps its scratch files (rootfs mount point,
// generated /etc files) in tmpDir (the state dir's tmp/); everything it
// creates there is removed when Run returns.
func New(tmpDir string) *Sandbox {
	return &Sandbox{tmpDir: tmpDir}
}
