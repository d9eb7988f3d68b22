package build

import (
	"github.com/xbuild/xbuild/buildcontext"
	"github.com/xbuild/xbuild/cache"
	"github.com/xbuild/xbuild/content"
	"github.com/xbuild/xbuild/executor"
	"github.com/xbuild/xbuild/image"
	"github.com/xbuild/xbuild/layer"
	"github.com/xbuild/xbuild/ops"
	"github.com/xbuild/xbuild/runner"
	"github.com/xbuild/xbuild/snapshot"
	"github.com/xbuild/xbuild/state"
)

// System is an open state directory with its stores.
type System struct {
	Root      *state.Root
	Content   *content.Store
	Snapshots *snapshot.Snapshotter
	Images    *image.Store
	Cache     *cache.DB
	Executor  *executor.Sandbox
}

// Open opens (creating if needed) the state directory dir.
func Open(dir string) (*System, error) {
	root, err := state.Open(dir)
	if err != nil {
		return nil, err
	}
	cs, err := content.NewStore(root.Dir)
	if err != nil {
		return nil, err
	}
	sn, err := snapshot.New(root.Path("snapshots"))
	if err != nil {
		return nil, err
	}
	return &System{
		Root:      root,
		Content:   cs,
		Snapshots: sn,
		Images:    image.NewStore(root, cs),
		Cache:     cache.New(root),
		Executor:  executor.New(root.Path("tmp")),
	}, nil
}

// RunEnv is what the runner needs of this state directory.
func (s *System) RunEnv() runner.Env {
	return runner.Env{Content: s.Content, Snapshots: s.Snapshots, Executor: s.Executor}
}

func (s *System) opsEnv(ctx *buildcontext.Dir, memo *buildcontext.Memo) *ops.Env {
	return &ops.Env{
		Root: s.Root, Content: s.Content, Snapshots: s.Snapshots, Executor: s.Executor,
		Context: ctx, Memo: memo, Compression: layer.Gzip,
	}
}
