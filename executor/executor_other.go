//go:build !linux

package executor

import (
	"context"
	"errors"

	"github.com/xbuild/xbuild/snapshot"
)

// Run always fails: the sandbox needs Linux namespaces and overlayfs.
func (s *Sandbox) Run(ctx context.Context, root []snapshot.Mount, mounts []Mount, p Process) error {
	return errors.New("sandbox needs Linux")
}

// Init returns at once: there is no sandbox init outside Linux.
func Init() {}
