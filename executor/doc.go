// Package executor runs one process in a Linux namespace sandbox over a root
// filesystem given as snapshot mounts. It is what RUN steps and `xbuild run`
// use.
//
// Sandbox.Run re-executes the current binary (/proc/self/exe) as the
// sandbox's init in new mount, PID, UTS and IPC namespaces (and a new network
// namespace for Network "none"). The init mounts the rootfs, /proc, a minimal
// /dev, a read-only /sys, generated /etc/hosts, /etc/hostname and
// /etc/resolv.conf and the extra mounts, masks /proc and /sys paths the way
// Docker does, pivots into the rootfs, resolves the user from the image's
// /etc/passwd and /etc/group, and starts the process with Docker's default
// capability bounding set and no_new_privs. As PID 1 of its namespace it
// reaps every child; when the process exits it kills whatever is left,
// unmounts what it mounted and removes every mount point it had to create,
// so none of them ever reaches the overlay upper dir (and thus a layer).
// Binaries that use this package must call Init first thing in main.
//
// Owns: the namespaces and mounts of one sandbox, and its scratch directory
// under the tmp dir given to New (removed when Run returns).
//
// Must not touch: anything in the host's mount namespace. Every mount is made
// inside the sandbox's private mount namespace and vanishes with it, so a
// killed xbuild leaves no mounts behind. It does not create, commit or remove
// snapshots and never reads image metadata: callers pass the rootfs mounts,
// argv, env, user and working dir already resolved. It imports only
// snapshot from xbuild.
package executor
