package convert

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/xbuild/xbuild/image"
	"github.com/xbuild/xbuild/llb"
)

func (s *stageState) run(c *instructions.RunCommand) error {
	if sec := instructions.GetSecurity(c); sec != "" && sec != "sandbox" {
		return notSupported("RUN --security=" + sec)
	}
	// RUN --network=default takes the build's --network.
	network := instructions.GetNetwork(c)
	if err := checkNetwork(network); err != nil {
		return err
	}
	if network == "default" {
		network = s.c.opt.Network
	}
	if network == "default" {
		network = ""
	}
	args := append([]string(nil), c.CmdLine...)
	var script *llb.ExecMount
	if len(c.Files) > 0 {
		var err error
		if args, script, err = heredocArgs(c); err != nil {
			return err
		}
	}
	if c.PrependShell {
		args = append(s.shell(), strings.Join(args, " "))
	}
	env := s.runEnv()
	mounts, inputs, err := s.runMounts(c)
	if err != nil {
		return err
	}
	if script != nil {
		mounts = append(mounts, *script)
	}
	op := llb.ExecOp{Args: args, Env: env, Cwd: s.cwd(), User: s.image.Config.User, Network: network, ProxyEnv: s.c.proxyEnv, Mounts: mounts}
	s.vertex = newStep(op, s.meta(c), append([]*llb.Vertex{s.vertex}, inputs...)...)
	s.history("RUN "+runCommandString(args, s.args, s.expandEnv())+" # buildkit", true)
	return nil
}

// heredocArgs turns a RUN with heredocs into its command, as BuildKit
// does: a RUN that is one heredoc runs its text with the shell, or, when
// the text starts with "#!", as a script file mounted at /dev/pipes/NAME;
// a command with heredocs gets them back in place, for the shell to read.
func heredocArgs(c *instructions.RunCommand) ([]string, *llb.ExecMount, error) {
	if len(c.CmdLine) != 1 || !c.PrependShell {
		return nil, nil, fmt.Errorf("parsing produced an invalid run command: %v", c.CmdLine)
	}
	if hd := parser.MustParseHeredoc(c.CmdLine[0]); hd != nil {
		data := c.Files[0].Data
		if c.Files[0].Chomp {
			data = parser.ChompHeredocContent(data)
		}
		if strings.HasPrefix(data, "#!") {
			target := path.Join("/dev/pipes", c.Files[0].Name)
			return []string{target}, &llb.ExecMount{Type: "file", Target: target, Data: data, Mode: 0o755}, nil
		}
		return []string{data}, nil, nil
	}
	var b strings.Builder
	b.WriteString(c.CmdLine[0])
	for _, f := range c.Files {
		b.WriteByte('\n')
		b.WriteString(f.Data)
		b.WriteString(f.Name)
	}
	return []string{b.String()}, nil, nil
}

// runCommandString renders a RUN for history as BuildKit does: the ARGs in
// scope as "|N K=V …" before the command.
func runCommandString(args []string, buildArgs []instructions.KeyValuePairOptional, env mapEnv) string {
	var pre []string
	idx := map[string]int{}
	for _, a := range buildArgs {
		v, ok := env.Get(a.Key)
		if !ok {
			v = a.ValueString()
		}
		if i, ok := idx[a.Key]; ok {
			pre[i] = a.Key + "=" + v
			continue
		}
		idx[a.Key] = len(pre)
		pre = append(pre, a.Key+"="+v)
	}
	if len(pre) > 0 {
		pre = append([]string{fmt.Sprintf("|%d", len(pre))}, pre...)
	}
	return strings.Join(append(pre, args...), " ")
}

// newStep makes the vertex of a step. A step that reads a NoCache vertex
// (of a --no-cache-filter stage) is NoCache too: the solver looks up a
// vertex before its inputs, so a cached dependent would keep the filtered
// steps from running at all.
func newStep(op llb.Op, m llb.Meta, inputs ...*llb.Vertex) *llb.Vertex {
	for _, in := range inputs {
		m.NoCache = m.NoCache || in.Meta().NoCache
	}
	return llb.New(op, m, inputs...)
}

// isProxyArg reports whether k is one of the proxy build args, which reach
// every RUN without being declared (any case).
func isProxyArg(k string) bool {
	switch strings.ToUpper(k) {
	case "HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY":
		return true
	}
	return false
}

// proxyEnv is the environment BuildKit gives every RUN for the proxy build
// args (proxyEnvFromBuildArgs and the exec op's proxyEnvList): each set
// proxy in upper and lower case. Of two spellings of one name, the one
// sorting last wins.
func proxyEnv(args map[string]string) []string {
	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	vals := map[string]string{}
	for _, k := range keys {
		if isProxyArg(k) {
			vals[strings.ToUpper(k)] = args[k]
		}
	}
	var env []string
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY"} {
		if v := vals[k]; v != "" {
			env = append(env, k+"="+v, strings.ToLower(k)+"="+v)
		}
	}
	return env
}

// checkNetwork validates a network mode (of --network or RUN --network).
func checkNetwork(mode string) error {
	switch mode {
	case "", "default", "none", "host":
		return nil
	}
	return fmt.Errorf("unsupported network mode %q", mode)
}

// runMounts turns RUN --mount flags into exec mounts and the extra inputs
// (context sources, stages, images) their binds read. Input indexes count
// from 1: input 0 is the rootfs.
func (s *stageState) runMounts(c *instructions.RunCommand) ([]llb.ExecMount, []*llb.Vertex, error) {
	var mounts []llb.ExecMount
	var inputs []*llb.Vertex
	for _, m := range instructions.GetMounts(c) {
		em := llb.ExecMount{Type: string(m.Type), Readonly: m.ReadOnly}
		if m.Target != "" {
			em.Target = path.Clean(s.absPath(m.Target))
		}
		if m.UID != nil {
			em.UID = uint32(*m.UID)
		}
		if m.GID != nil {
			em.GID = uint32(*m.GID)
		}
		if m.Mode != nil {
			em.Mode = uint32(*m.Mode)
		}
		switch m.Type {
		case instructions.MountTypeSSH:
			return nil, nil, notSupported("RUN --mount=type=ssh")
		case instructions.MountTypeBind:
			if em.Target == "" {
				return nil, nil, errors.New("mount type bind: target is required")
			}
			v, src, err := s.bindSource(m)
			if err != nil {
				return nil, nil, err
			}
			inputs = append(inputs, v)
			em.Input, em.Source, em.Context = len(inputs), src, m.From == ""
		case instructions.MountTypeCache:
			if em.Target == "" {
				return nil, nil, errors.New("mount type cache: target is required")
			}
			if m.From != "" {
				return nil, nil, notSupported("RUN --mount=type=cache,from=…")
			}
			em.ID, em.Sharing = m.CacheID, string(m.CacheSharing)
			if em.ID == "" {
				em.ID = em.Target
			}
			if em.Sharing == "" {
				em.Sharing = string(instructions.MountSharingShared)
			}
			if m.Mode == nil {
				em.Mode = 0o755
			}
		case instructions.MountTypeTmpfs:
			if em.Target == "" {
				return nil, nil, errors.New("mount type tmpfs: target is required")
			}
			em.Size = m.SizeLimit
		case instructions.MountTypeSecret:
			em.ID, em.Required = m.CacheID, m.Required
			if em.ID == "" {
				if m.Source != "" {
					em.ID = m.Source
				} else {
					em.ID = path.Base(em.Target)
				}
			}
			if m.Env != nil {
				em.Env = *m.Env
			}
			if em.Target == "" && em.Env == "" {
				em.Target = "/run/secrets/" + em.ID
			}
			if m.Mode == nil {
				em.Mode = 0o400
			}
		default:
			return nil, nil, notSupported("RUN --mount=type=" + string(m.Type))
		}
		mounts = append(mounts, em)
	}
	return mounts, inputs, nil
}

// bindSource returns the vertex a bind mount reads (the context, a stage or
// an image) and the source path inside it.
func (s *stageState) bindSource(m *instructions.Mount) (*llb.Vertex, string, error) {
	src := path.Clean("/" + m.Source)
	if m.From == "" {
		if rel := path.Clean(m.Source); rel == ".." || strings.HasPrefix(rel, "../") {
			return nil, "", fmt.Errorf("%s: forbidden path outside the build context", m.Source)
		}
		inc := strings.TrimPrefix(src, "/")
		v := llb.New(llb.ContextOp{Name: "context", Includes: []string{inc}, Excludes: s.c.opt.Excludes}, llb.Meta{})
		return v, src, nil
	}
	st, err := s.c.stageRef(m.From, s.index)
	if err != nil {
		return nil, "", err
	}
	if st != nil {
		if err := s.c.dispatch(st); err != nil {
			return nil, "", err
		}
		return st.vertex, src, nil
	}
	img, err := s.c.opt.Images.Get(s.c.ctx, m.From)
	if err != nil {
		if errors.Is(err, image.ErrNotFound) {
			return nil, "", fmt.Errorf("from=%s: no stage or image named %q", m.From, m.From)
		}
		return nil, "", fmt.Errorf("from=%s: %w", m.From, err)
	}
	ref, _ := image.ParseReference(m.From)
	v := llb.New(llb.ImageOp{Ref: ref.String(), Manifest: img.Descriptor.Digest}, llb.Meta{Internal: true, Name: "[internal] load " + ref.String()})
	return v, src, nil
}
