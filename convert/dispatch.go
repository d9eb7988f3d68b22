package convert

import (
	"fmt"
	"path"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/xbuild/xbuild/llb"
)

func (s *stageState) dispatchCommand(cmd instructions.Command) error {
	if ex, ok := cmd.(instructions.SupportsSingleWordExpansion); ok {
		env := s.expandEnv()
		if err := ex.Expand(func(word string) (string, error) {
			w, _, err := s.c.lex.ProcessWord(word, env)
			return w, err
		}); err != nil {
			return err
		}
	}
	switch c := cmd.(type) {
	case *instructions.RunCommand:
		return s.run(c)
	case *instructions.CopyCommand:
		return s.copy(c)
	case *instructions.AddCommand:
		return s.add(c)
	case *instructions.WorkdirCommand:
		return s.workdir(c)
	case *instructions.ArgCommand:
		return s.arg(c)
	case *instructions.EnvCommand:
		return s.env(c)
	case *instructions.LabelCommand:
		return s.label(c)
	case *instructions.ExposeCommand:
		return s.expose(c)
	case *instructions.VolumeCommand:
		return s.volume(c)
	case *instructions.CmdCommand:
		return s.cmd(c)
	case *instructions.EntrypointCommand:
		return s.entrypoint(c)
	case *instructions.UserCommand:
		s.image.Config.User = c.User
		s.history(fmt.Sprintf("USER %v", c.User), false)
	case *instructions.OnbuildCommand:
		s.image.Config.OnBuild = append(s.image.Config.OnBuild, c.Expression)
	case *instructions.StopSignalCommand:
		if err := checkSignal(c.Signal); err != nil {
			return err
		}
		s.image.Config.StopSignal = c.Signal
		s.history(fmt.Sprintf("STOPSIGNAL %v", c.Signal), false)
	case *instructions.ShellCommand:
		s.image.Config.Shell = append([]string(nil), c.Shell...)
		s.history(fmt.Sprintf("SHELL %v", c.Shell), false)
	case *instructions.HealthCheckCommand:
		s.image.Config.Healthcheck = c.Health
		s.history(fmt.Sprintf("HEALTHCHECK %+v", *c.Health), false)
	case *instructions.MaintainerCommand:
		s.image.Author = c.Maintainer
		s.history(fmt.Sprintf("MAINTAINER %v", c.Maintainer), false)
	default:
		return notSupported(strings.ToUpper(cmd.Name()))
	}
	return nil
}

// history appends a history entry; Created is filled in after the solve
// from the time each layer was made.
func (s *stageState) history(msg string, layer bool) {
	s.image.History = append(s.image.History, ocispec.History{
		CreatedBy:  msg,
		Comment:    historyComment,
		EmptyLayer: !layer,
	})
}

// expandEnv is the environment for word expansion: ARGs in scope, then
// ENV (which wins over an ARG of the same name).
func (s *stageState) expandEnv() mapEnv {
	m := mapEnv{}
	for _, a := range s.args {
		if a.Value != nil {
			m[a.Key] = *a.Value
		}
	}
	for _, kv := range s.image.Config.Env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// runEnv is the environment of a RUN: the image's Env plus the ARGs in
// scope that ENV does not override.
func (s *stageState) runEnv() []string {
	env := append([]string(nil), s.image.Config.Env...)
	seen := map[string]bool{}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		seen[k] = true
	}
	// A redeclared ARG takes its place of first declaration with the
	// value of the last one.
	at := map[string]int{}
	for _, a := range s.args {
		if a.Value == nil || seen[a.Key] {
			continue
		}
		if i, ok := at[a.Key]; ok {
			env[i] = a.Key + "=" + *a.Value
			continue
		}
		at[a.Key] = len(env)
		env = append(env, a.Key+"="+*a.Value)
	}
	return env
}

func (s *stageState) shell() []string {
	if len(s.image.Config.Shell) > 0 {
		return append([]string(nil), s.image.Config.Shell...)
	}
	return []string{"/bin/sh", "-c"}
}

func (s *stageState) cwd() string {
	if s.image.Config.WorkingDir == "" {
		return "/"
	}
	return s.image.Config.WorkingDir
}

// absPath resolves p against the working dir, keeping a trailing slash.
func (s *stageState) absPath(p string) string {
	trailing := strings.HasSuffix(p, "/") || strings.HasSuffix(p, "/.") || p == "."
	if !path.IsAbs(p) {
		p = path.Join(s.cwd(), p)
	}
	p = path.Clean(p)
	if trailing && p != "/" {
		p += "/"
	}
	return p
}

// meta is the metadata of a vertex made by cmd: the progress name is the
// instruction with the stage's variables expanded, as BuildKit's
// processCmdEnv shows it (a RUN keeps its quotes, escapes and unset
// variables), the error text the instruction as written.
func (s *stageState) meta(cmd instructions.Command) llb.Meta {
	text := instructionText(cmd)
	lex := *s.c.lex
	if _, ok := cmd.(*instructions.RunCommand); ok {
		lex.RawQuotes, lex.RawEscapes, lex.SkipUnsetEnv = true, true, true
	}
	name := text
	if w, _, err := lex.ProcessWord(text, s.expandEnv()); err == nil {
		name = w
	}
	if cmdName, rest, ok := strings.Cut(name, " "); ok {
		name = strings.ToUpper(cmdName) + " " + rest
	} else {
		name = strings.ToUpper(name)
	}
	return llb.Meta{Name: s.stepName(name), File: s.c.df.File, Line: line(cmd.Location()), Text: text, NoCache: s.noCache}
}

func (s *stageState) workdir(c *instructions.WorkdirCommand) error {
	wd := c.Path
	if !path.IsAbs(wd) {
		wd = path.Join(s.cwd(), wd)
	}
	wd = path.Clean(wd)
	s.image.Config.WorkingDir = wd
	if wd == "/" {
		s.history("WORKDIR "+wd, false)
		return nil
	}
	op := llb.MkdirOp{Path: wd, Mode: 0o755, User: s.image.Config.User}
	s.vertex = newStep(op, s.meta(c), s.vertex)
	s.history("WORKDIR "+wd, true)
	return nil
}

func (s *stageState) arg(c *instructions.ArgCommand) error {
	var parts []string
	for _, kv := range c.Args {
		kv := kv
		if v, ok := s.c.opt.BuildArgs[kv.Key]; ok {
			kv.Value = &v
		} else if kv.Value == nil {
			if v, ok := s.c.metaArgs[kv.Key]; ok {
				kv.Value = &v
			}
		}
		s.c.usedArgs[kv.Key] = true
		s.args = append(s.args, kv)
		part := kv.Key
		if kv.Value != nil {
			part += "=" + *kv.Value
		}
		parts = append(parts, part)
	}
	s.history("ARG "+strings.Join(parts, " "), false)
	return nil
}

func (s *stageState) env(c *instructions.EnvCommand) error {
	msg := "ENV"
	for _, kv := range c.Env {
		s.image.Config.Env = addEnv(s.image.Config.Env, kv.Key, kv.Value)
		msg += " " + kv.String()
	}
	s.history(msg, false)
	return nil
}

func addEnv(env []string, k, v string) []string {
	for i, kv := range env {
		if key, _, _ := strings.Cut(kv, "="); key == k {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

func (s *stageState) label(c *instructions.LabelCommand) error {
	if s.image.Config.Labels == nil {
		s.image.Config.Labels = map[string]string{}
	}
	msg := "LABEL"
	for _, kv := range c.Labels {
		s.image.Config.Labels[kv.Key] = kv.Value
		msg += " " + kv.String()
	}
	s.history(msg, false)
	return nil
}

func (s *stageState) volume(c *instructions.VolumeCommand) error {
	if s.image.Config.Volumes == nil {
		s.image.Config.Volumes = map[string]struct{}{}
	}
	for _, v := range c.Volumes {
		if v == "" {
			return fmt.Errorf("VOLUME specified can not be an empty string")
		}
		s.image.Config.Volumes[v] = struct{}{}
	}
	s.history(fmt.Sprintf("VOLUME %v", c.Volumes), false)
	return nil
}

func (s *stageState) cmd(c *instructions.CmdCommand) error {
	args := append([]string(nil), c.CmdLine...)
	if c.PrependShell {
		args = append(s.shell(), strings.Join(c.CmdLine, " "))
	}
	s.image.Config.Cmd = args
	// BuildKit marks every CMD so (for Windows images; Linux ignores it).
	s.image.Config.ArgsEscaped = true //nolint:staticcheck // deprecated, but part of BuildKit's config
	s.cmdSet = true
	s.history(fmt.Sprintf("CMD %q", args), false)
	return nil
}

func (s *stageState) entrypoint(c *instructions.EntrypointCommand) error {
	args := append([]string(nil), c.CmdLine...)
	if c.PrependShell {
		args = append(s.shell(), strings.Join(c.CmdLine, " "))
	}
	s.image.Config.Entrypoint = args
	if !s.cmdSet {
		s.image.Config.Cmd = nil
	}
	s.history(fmt.Sprintf("ENTRYPOINT %q", args), false)
	return nil
}
