package convert

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	bkparser "github.com/moby/buildkit/frontend/dockerfile/parser"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/xbuild/xbuild/image"
	"github.com/xbuild/xbuild/llb"
	"github.com/xbuild/xbuild/parser"
)

// stageState is one stage being converted.
type stageState struct {
	c         *converter
	index     int
	name      string // lower-cased AS name, "" if none
	prefix    string // progress prefix: stage name, "stage-N", or "" for a single stage
	stage     instructions.Stage
	done      bool
	busy      bool
	vertex    *llb.Vertex
	imageOp   *llb.ImageOp // the base image, until the FROM step is named
	image     dockerspec.DockerOCIImage
	args      []instructions.KeyValuePairOptional // ARGs in scope, with values
	cmdSet    bool                                // CMD given in this stage
	inOnbuild bool                                // dispatching the base image's ONBUILD triggers
	noCache   bool                                // --no-cache-filter names this stage
	cmdIndex  int
	cmdTotal  int
}

func newStageState(c *converter, i int) *stageState {
	st := c.df.Stages[i]
	s := &stageState{c: c, index: i, name: strings.ToLower(st.Name), stage: st}
	for _, n := range c.opt.NoCacheStages {
		if s.name != "" && strings.EqualFold(n, s.name) {
			s.noCache = true
		}
	}
	if len(c.df.Stages) > 1 {
		s.prefix = s.name
		if s.prefix == "" {
			s.prefix = fmt.Sprintf("stage-%d", i)
		}
	}
	return s
}

// dispatch converts stage s (and, first, the stages it depends on).
func (c *converter) dispatch(s *stageState) error {
	if s.done {
		return nil
	}
	if s.busy {
		return c.df.Errorf(s.stage.Location, "circular dependency detected on stage: %s", s.name)
	}
	s.busy = true
	defer func() { s.busy = false }()
	if err := s.from(); err != nil {
		return err
	}
	s.ensurePath()
	cmds, err := s.onbuildTriggers()
	if err != nil {
		return err
	}
	triggers := len(cmds)
	cmds = append(cmds, s.stage.Commands...)
	// BuildKit counts the layer-making instructions of the stage and every
	// ONBUILD trigger, whether it makes a layer or not.
	s.countSteps(s.stage.Commands)
	s.cmdTotal += triggers
	if s.imageOp != nil {
		s.vertex = llb.New(*s.imageOp, llb.Meta{
			Name: s.stepName("FROM " + s.imageOp.Ref), File: c.df.File, Line: line(s.stage.Location),
			Text: strings.TrimSpace(s.stage.SourceCode),
		})
	}
	for i, cmd := range cmds {
		s.inOnbuild = i < triggers
		if err := s.dispatchCommand(cmd); err != nil {
			var located *parser.Error
			if errors.As(err, &located) {
				return err // from a stage this one depends on: already located
			}
			return c.df.Wrap(cmd.Location(), fmt.Errorf("%s: %w", instructionText(cmd), err))
		}
	}
	s.done = true
	return nil
}

// from sets up the stage's base: scratch, an earlier stage or an image.
func (s *stageState) from() error {
	c := s.c
	base, _, err := c.lex.ProcessWord(s.stage.BaseName, mapEnv(c.metaArgs))
	if err != nil {
		return c.df.Wrap(s.stage.Location, err)
	}
	if base == "" {
		return c.df.Errorf(s.stage.Location, "FROM: base name (%s) should not be blank", s.stage.BaseName)
	}
	if s.stage.Platform != "" {
		return c.df.Errorf(s.stage.Location, "FROM --platform: %w", notSupported("--platform"))
	}
	if strings.EqualFold(base, "scratch") {
		s.vertex = c.scratch
		s.image = emptyImage()
		return nil
	}
	if parent := c.baseStage(base, s.index); parent != nil {
		if err := c.dispatch(parent); err != nil {
			return err
		}
		s.vertex = parent.vertex
		s.image = cloneImage(parent.image)
		// The ARGs in scope carry over, as BuildKit's dispatchState.init.
		s.args = append([]instructions.KeyValuePairOptional(nil), parent.args...)
		return nil
	}
	img, err := c.opt.Images.Get(c.ctx, base)
	if err != nil {
		return c.df.Errorf(s.stage.Location, "FROM %s: %w", base, err)
	}
	ref, _ := image.ParseReference(base)
	s.image = cloneImage(dockerspec.DockerOCIImage{Image: img.Config.Image, Config: img.Config.Config})
	s.image.Created = nil
	s.imageOp = &llb.ImageOp{Ref: ref.String(), Manifest: img.Descriptor.Digest}
	s.cmdTotal = 1 // the FROM step itself is step 1
	return nil
}

// ensurePath adds BuildKit's default PATH to an image whose Env has none.
func (s *stageState) ensurePath() {
	for _, kv := range s.image.Config.Env {
		if k, _, _ := strings.Cut(kv, "="); k == "PATH" {
			return
		}
	}
	s.image.Config.Env = append(s.image.Config.Env, "PATH="+DefaultPath)
}

// onbuildTriggers parses the base image's ONBUILD triggers; they run
// before the stage's own instructions and are not inherited further.
func (s *stageState) onbuildTriggers() ([]instructions.Command, error) {
	triggers := s.image.Config.OnBuild
	s.image.Config.OnBuild = nil
	var cmds []instructions.Command
	for _, t := range triggers {
		res, err := bkparser.Parse(strings.NewReader(t))
		if err != nil || len(res.AST.Children) != 1 {
			return nil, s.c.df.Errorf(s.stage.Location, "ONBUILD trigger %q of the base image: invalid: %v", t, err)
		}
		n := res.AST.Children[0]
		n.StartLine, n.EndLine = line(s.stage.Location), line(s.stage.Location)
		cmd, err := instructions.ParseCommand(n)
		if err != nil {
			return nil, s.c.df.Errorf(s.stage.Location, "ONBUILD trigger %q of the base image: %v", t, err)
		}
		switch strings.ToUpper(cmd.Name()) {
		case "ONBUILD", "FROM", "MAINTAINER":
			return nil, s.c.df.Errorf(s.stage.Location, "%s isn't allowed as an ONBUILD trigger", strings.ToUpper(cmd.Name()))
		}
		cmds = append(cmds, cmd)
	}
	return cmds, nil
}

// countSteps sets the step total as BuildKit counts it: the FROM of an
// image plus every instruction that makes a layer.
func (s *stageState) countSteps(cmds []instructions.Command) {
	for _, cmd := range cmds {
		switch cmd.(type) {
		case *instructions.AddCommand, *instructions.CopyCommand, *instructions.RunCommand, *instructions.WorkdirCommand:
			s.cmdTotal++
		}
	}
}

// stepName is the progress name "[stage k/n] TEXT".
func (s *stageState) stepName(text string) string {
	if s.cmdTotal == 0 {
		return text
	}
	s.cmdIndex++
	width := int(1 + math.Log10(float64(s.cmdTotal)))
	p := "["
	if s.prefix != "" {
		p += s.prefix + " "
	}
	if s.inOnbuild {
		text = "ONBUILD " + text
	}
	return fmt.Sprintf("%s%*d/%d] %s", p, width, s.cmdIndex, s.cmdTotal, text)
}

func emptyImage() dockerspec.DockerOCIImage {
	var img dockerspec.DockerOCIImage
	img.Architecture = runtime.GOARCH
	img.OS = "linux"
	img.RootFS.Type = "layers"
	img.Config.Env = []string{"PATH=" + DefaultPath}
	img.Config.WorkingDir = "/"
	return img
}

func cloneImage(in dockerspec.DockerOCIImage) dockerspec.DockerOCIImage {
	out := in
	cfg := &out.Config
	cfg.Env = append([]string(nil), in.Config.Env...)
	cfg.Cmd = append([]string(nil), in.Config.Cmd...)
	cfg.Entrypoint = append([]string(nil), in.Config.Entrypoint...)
	cfg.Shell = append([]string(nil), in.Config.Shell...)
	cfg.OnBuild = append([]string(nil), in.Config.OnBuild...)
	cfg.ExposedPorts = cloneSet(in.Config.ExposedPorts)
	cfg.Volumes = cloneSet(in.Config.Volumes)
	if in.Config.Labels != nil {
		cfg.Labels = make(map[string]string, len(in.Config.Labels))
		for k, v := range in.Config.Labels {
			cfg.Labels[k] = v
		}
	}
	out.History = append([]ocispec.History(nil), in.History...)
	out.RootFS.DiffIDs = nil
	out.RootFS.Type = "layers"
	return out
}

func cloneSet(in map[string]struct{}) map[string]struct{} {
	if in == nil {
		return nil
	}
	out := make(map[string]struct{}, len(in))
	for k := range in {
		out[k] = struct{}{}
	}
	return out
}

func line(loc []bkparser.Range) int {
	if len(loc) == 0 {
		return 0
	}
	return loc[0].Start.Line
}

// instructionText is the instruction as written, for error messages.
func instructionText(cmd instructions.Command) string {
	if s, ok := cmd.(fmt.Stringer); ok {
		return strings.TrimSpace(s.String())
	}
	return strings.ToUpper(cmd.Name())
}
