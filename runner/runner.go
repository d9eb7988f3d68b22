package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/xbuild/xbuild/content"
	"github.com/xbuild/xbuild/executor"
	"github.com/xbuild/xbuild/image"
	"github.com/xbuild/xbuild/layer"
	"github.com/xbuild/xbuild/snapshot"
)

// Env is what a run needs of the state directory.
type Env struct {
	Content   content.Provider
	Snapshots *snapshot.Snapshotter
	Executor  executor.Executor
}

// Options describe one run.
type Options struct {
	Image      *image.Image
	Args       []string // replaces the image's Cmd when not empty
	Entrypoint *string  // replaces the image's Entrypoint (and drops its Cmd) when set
	Env        []string // K=V added to (or replacing in) the image's Env
	Workdir    string
	User       string
	Stdin      io.Reader
	Stdout     io.Writer
	Stderr     io.Writer
}

// Run runs the container to completion and returns its exit code. The
// writable layer is discarded afterwards.
func Run(ctx context.Context, env Env, opt Options) (int, error) {
	argv, err := command(opt)
	if err != nil {
		return 0, err
	}
	img := opt.Image
	top, err := layer.UnpackChain(ctx, env.Content, env.Snapshots, img.Manifest.Layers, img.Config.RootFS.DiffIDs)
	if err != nil {
		return 0, err
	}
	id := newID()
	key := env.Snapshots.NewKey()
	mounts, err := env.Snapshots.Prepare(ctx, key, top)
	if err != nil {
		return 0, err
	}
	defer env.Snapshots.Remove(context.WithoutCancel(ctx), key)
	cfg := opt.Image.Config.Config
	p := executor.Process{
		Args:     argv,
		Env:      mergeEnv(cfg.Env, opt.Env),
		Cwd:      first(opt.Workdir, cfg.WorkingDir, "/"),
		User:     first(opt.User, cfg.User),
		Hostname: id[:12],
		Network:  "host",
		Stdin:    opt.Stdin,
		Stdout:   opt.Stdout,
		Stderr:   opt.Stderr,
	}
	err = env.Executor.Run(ctx, mounts, nil, p)
	var ee *executor.ExitError
	if errors.As(err, &ee) {
		return ee.Code, nil
	}
	if err != nil {
		return 0, err
	}
	return 0, nil
}

func command(opt Options) ([]string, error) {
	cfg := opt.Image.Config.Config
	entry, cmd := cfg.Entrypoint, cfg.Cmd
	if opt.Entrypoint != nil {
		entry, cmd = nil, nil
		if *opt.Entrypoint != "" {
			entry = []string{*opt.Entrypoint}
		}
	}
	if len(opt.Args) > 0 {
		cmd = opt.Args
	}
	argv := append(append([]string(nil), entry...), cmd...)
	if len(argv) == 0 {
		return nil, fmt.Errorf("no command specified: the image has no CMD or ENTRYPOINT and none was given")
	}
	return argv, nil
}

func mergeEnv(base, add []string) []string {
	out := append([]string(nil), base...)
	for _, kv := range add {
		k, _, _ := strings.Cut(kv, "=")
		replaced := false
		for i, e := range out {
			if ek, _, _ := strings.Cut(e, "="); ek == k {
				out[i], replaced = kv, true
				break
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func newID() string {
	var b [32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
