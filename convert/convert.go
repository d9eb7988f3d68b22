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
	// Network is the network mode of every RUN without a --network of its
	// own: "" or "default" (the host's, as BuildKit's default), "none" or
	// "host".
	Network string
	// NoCacheStages names the stages (case-insensitively) whose steps skip
	// cache lookups (--no-cache-filter).
	NoCacheStages []string
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
	proxyEnv []string // proxy variables from --build-arg, for every RUN
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
		proxyEnv: proxyEnv(opt.BuildArgs),
		scratch:  llb.New(llb.ScratchOp{}, llb.Meta{}),
	}
	if err := checkNetwork(opt.Network); err != nil {
		return nil, err
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

// stageRef resolves a --from value to an earlier stage: a stage name or an
// index. It returns nil (and no error) when name is no stage, so it names
// an image.
func (c *converter) stageRef(name string, before int) (*stageState, error) {
	if s := c.stageByName(name); s != nil {
		// A later stage is fine (BuildKit registers every stage first);
		// dispatch catches longer cycles.
		if s.index == before {
			return nil, fmt.Errorf("circular dependency detected on stage: %s", s.name)
		}
		return s, nil
	}
	if i, err := strconv.Atoi(name); err == nil {
		if i < 0 || i >= before {
			return nil, fmt.Errorf("invalid stage index %d: must refer to an earlier stage", i)
		}
		return c.stages[i], nil
	}
	return nil, nil
}

// baseStage resolves the base name of stage number before: the latest
// earlier stage of that name, or nil when there is none. As in BuildKit, a
// name defined at or after the stage (`FROM x AS x`) is an image.
func (c *converter) baseStage(name string, before int) *stageState {
	for i := before - 1; i >= 0; i-- {
		if s := c.stages[i]; s.name != "" && strings.EqualFold(s.name, name) {
			return s
		}
	}
	return nil
}

// evalMetaArgs evaluates the ARGs before the first FROM, over the
// predefined platform args, as BuildKit's buildMetaArgs: a --build-arg
// wins, then the default; an ARG without either keeps what the name had
// (so `ARG TARGETARCH` keeps the predefined value).
func (c *converter) evalMetaArgs() error {
	for _, a := range c.predefinedArgs() {
		v := *a.Value
		if ov, ok := c.opt.BuildArgs[a.Key]; ok {
			v = ov
		}
		c.metaArgs[a.Key] = v
	}
	for i := range c.df.MetaArgs {
		cmd := &c.df.MetaArgs[i]
		for _, kv := range cmd.Args {
			if v, ok := c.opt.BuildArgs[kv.Key]; ok {
				c.usedArgs[kv.Key] = true
				c.metaArgs[kv.Key] = v
				continue
			}
			if kv.Value == nil {
				continue
			}
			v, _, err := c.lex.ProcessWord(*kv.Value, mapEnv(c.metaArgs))
			if err != nil {
				return c.df.Wrap(cmd.Location(), err)
			}
			c.metaArgs[kv.Key] = v
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

// predefinedArgs are BuildKit's default args: the build and target
// platforms and TARGETSTAGE, the stage being built ("default" when the
// last stage has no name and there is no --target).
func (c *converter) predefinedArgs() []instructions.KeyValuePairOptional {
	target := c.opt.Target
	if target == "" {
		target = c.df.Stages[len(c.df.Stages)-1].Name
	}
	if target == "" {
		target = "default"
	}
	plat := runtime.GOOS + "/" + runtime.GOARCH
	kv := func(k, v string) instructions.KeyValuePairOptional {
		return instructions.KeyValuePairOptional{Key: k, Value: &v}
	}
	return []instructions.KeyValuePairOptional{
		kv("BUILDPLATFORM", plat), kv("BUILDOS", runtime.GOOS), kv("BUILDOSVERSION", ""), kv("BUILDARCH", runtime.GOARCH), kv("BUILDVARIANT", ""),
		kv("TARGETPLATFORM", plat), kv("TARGETOS", runtime.GOOS), kv("TARGETOSVERSION", ""), kv("TARGETARCH", runtime.GOARCH), kv("TARGETVARIANT", ""),
		kv("TARGETSTAGE", target),
	}
}

func isPredefined(k string) bool {
	switch k {
	case "BUILDPLATFORM", "BUILDOS", "BUILDOSVERSION", "BUILDARCH", "BUILDVARIANT",
		"TARGETPLATFORM", "TARGETOS", "TARGETOSVERSION", "TARGETARCH", "TARGETVARIANT", "TARGETSTAGE":
		return true
	}
	return isProxyArg(k)
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
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var errNotSupported = errors.New("not supported yet")

func notSupported(what string) error { return fmt.Errorf("%w: %s", errNotSupported, what) }
