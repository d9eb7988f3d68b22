package convert

import (
	"fmt"
	"sort"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/xbuild/xbuild/llb"
)

func (s *stageState) run(c *instructions.RunCommand) error {
	if len(c.Files) > 0 {
		return notSupported("RUN with a heredoc")
	}
	if len(instructions.GetMounts(c)) > 0 {
		return notSupported("RUN --mount")
	}
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
	if c.PrependShell {
		args = append(s.shell(), strings.Join(c.CmdLine, " "))
	}
	env := s.runEnv()
	op := llb.ExecOp{Args: args, Env: env, Cwd: s.cwd(), User: s.image.Config.User, Network: network, ProxyEnv: s.c.proxyEnv}
	s.vertex = newStep(op, s.meta(c), s.vertex)
	s.history("RUN "+runCommandString(args, s.args, s.expandEnv())+" # buildkit", true)
	return nil
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
