package convert

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"

	"github.com/xbuild/xbuild/image"
	"github.com/xbuild/xbuild/llb"
	"github.com/xbuild/xbuild/parser"
)

// ImageSource finds base images.
type ImageSource interface {
	Get(ctx context.Context, name string) (*image.Image, error)
}

// Options are the inputs of a conversion.
type Options struct {
	Dockerfile *parser.Dockerfile
	BuildArgs  map[string]string
	Target     string   // stage name; "" = last stage
	Excludes   []string // .dockerignore patterns
	Images     ImageSource
}

// Result is the graph and config of the target stage.
type Result struct {
	Vertex *llb.Vertex // the target's filesystem
	Image  dockerspec.DockerOCIImage
	// Warnings for the user (unused build args…).
	Warnings []string
}

const historyComment = "buildkit.dockerfile.v0"

// DefaultPath is the PATH of an image built FROM scratch.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

type converter struct {
	ctx      context.Context
	opt      Options
	df       *parser.Dockerfile
	lex      *shell.Lex
	stages   []*stageState
	metaArgs map[string]string // global ARG values after --build-arg
	usedArgs map[string]bool
	scratch  *llb.Vertex
}

// Convert converts the target stage and the stages it depends on.
func Convert(ctx context.Context, opt Options) (*Result, error) {
	c := &converter{
		ctx:      ctx,
		opt:      opt,
		df:       opt.Dockerfile,
		lex:      opt.Dockerfile.Lex(),
		metaArgs: map[string]string{},
		usedArgs: map[string]bool{},
		scratch:  llb.New(llb.ScratchOp{}, llb.Meta{}),
	}
	if err := c.evalMetaArgs(); err != nil {
		return nil, err
	}
	for i := range c.df.Stages {
		c.stages = append(c.stages, newStageState(c, i))
	}
	target := c.stages[len(c.stages)-1]
	if opt.Target != "" {
		target = c.stageByName(opt.Target)
		if target == nil {
			return nil, fmt.Errorf("target stage %q could not be found", opt.Target)
		}
	}
	if err := c.dispatch(target); err != nil {
		return nil, err
	}
	res := &Result{Vertex: target.vertex, Image: target.image}
	res.Warnings = c.unusedArgWarnings()
	return res, nil
}

func (c *converter) stageByName(name string) *stageState {
	for _, s := range c.stages {
		if s.name != "" && strings.EqualFold(s.name, name) {
			return s
		}
	}
	return nil
}

// stageRef resolves a --from value or FROM name to an earlier stage: a
// stage name or, for --from, an index.
func (c *converter) stageRef(name string, before int, allowIndex bool) (*stageState, error) {
	if s := c.stageByName(name); s != nil {
		if s.index >= before {
			return nil, fmt.Errorf("stage %q is defined after this one: a stage can only refer to earlier stages", name)
		}
		return s, nil
	}
	if allowIndex {
		if i, err := strconv.Atoi(name); err == nil {
			if i < 0 || i >= before {
				return nil, fmt.Errorf("invalid stage index %d: must refer to an earlier stage", i)
			}
			return c.stages[i], nil
		}
	}
	return nil, nil
}

func (c *converter) evalMetaArgs() error {
	for _, a := range predefinedArgs() {
		c.metaArgs[a.Key] = *a.Value
	}
	for i := range c.df.MetaArgs {
		cmd := &c.df.MetaArgs[i]
		for _, kv := range cmd.Args {
			v, ok := c.opt.BuildArgs[kv.Key]
			if ok {
				c.usedArgs[kv.Key] = true
			} else if kv.Value != nil {
				ex, _, err := c.lex.ProcessWord(*kv.Value, mapEnv(c.metaArgs))
				if err != nil {
					return c.df.Wrap(cmd.Location(), err)
				}
				v, ok = ex, true
			}
			if ok {
				c.metaArgs[kv.Key] = v
			} else {
				delete(c.metaArgs, kv.Key)
				c.metaArgs[kv.Key+"\x00declared"] = ""
			}
		}
	}
	return nil
}

func (c *converter) unusedArgWarnings() []string {
	var unused []string
	for k := range c.opt.BuildArgs {
		if !c.usedArgs[k] && !isPredefined(k) {
			unused = append(unused, k)
		}
	}
	if len(unused) == 0 {
		return nil
	}
	sort.Strings(unused)
	return []string{fmt.Sprintf("one or more build-args %v were not consumed", unused)}
}

func predefinedArgs() []instructions.KeyValuePairOptional {
	plat := runtime.GOOS + "/" + runtime.GOARCH
	kv := func(k, v string) instructions.KeyValuePairOptional {
		return instructions.KeyValuePairOptional{Key: k, Value: &v}
	}
	return []instructions.KeyValuePairOptional{
		kv("TARGETPLATFORM", plat), kv("TARGETOS", runtime.GOOS), kv("TARGETARCH", runtime.GOARCH), kv("TARGETVARIANT", ""),
		kv("BUILDPLATFORM", plat), kv("BUILDOS", runtime.GOOS), kv("BUILDARCH", runtime.GOARCH), kv("BUILDVARIANT", ""),
	}
}

func isPredefined(k string) bool {
	for _, a := range predefinedArgs() {
		if a.Key == k {
			return true
		}
	}
	switch strings.ToUpper(k) {
	case "HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY":
		return true
	}
	return false
}

// mapEnv adapts a map to shell.EnvGetter.
type mapEnv map[string]string

func (m mapEnv) Get(k string) (string, bool) {
	v, ok := m[k]
	return v, ok
}

func (m mapEnv) Keys() []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		if !strings.Contains(k, "\x00") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

var errNotSupported = errors.New("not supported yet")

func notSupported(what string) error { return fmt.Errorf("%w: %s", errNotSupported, what) }
