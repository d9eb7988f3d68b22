package convert

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

func (s *stageState) expose(c *instructions.ExposeCommand) error {
	env := s.expandEnv()
	var ports []string
	for _, raw := range c.Ports {
		words, err := s.c.lex.ProcessWords(raw, env)
		if err != nil {
			return err
		}
		for _, w := range words {
			ps, err := parsePort(w)
			if err != nil {
				return err
			}
			ports = append(ports, ps...)
		}
	}
	if s.image.Config.ExposedPorts == nil {
		s.image.Config.ExposedPorts = map[string]struct{}{}
	}
	for _, p := range ports {
		s.image.Config.ExposedPorts[p] = struct{}{}
	}
	s.history(fmt.Sprintf("EXPOSE %v", ports), false)
	return nil
}

// parsePort turns "80", "53/udp" or "8000-8002/tcp" into "port/proto"
// entries.
func parsePort(raw string) ([]string, error) {
	p, proto, _ := strings.Cut(raw, "/")
	if proto == "" {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	switch proto {
	case "tcp", "udp", "sctp":
	default:
		return nil, fmt.Errorf("invalid port %q: unknown protocol %q", raw, proto)
	}
	if i := strings.LastIndexByte(p, ':'); i >= 0 {
		p = p[i+1:]
	}
	lo, hi, isRange := strings.Cut(p, "-")
	start, err := strconv.ParseUint(lo, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("invalid port %q: invalid containerPort: %s", raw, p)
	}
	end := start
	if isRange {
		if end, err = strconv.ParseUint(hi, 10, 16); err != nil || end < start {
			return nil, fmt.Errorf("invalid port %q: invalid range", raw)
		}
	}
	var out []string
	for n := start; n <= end; n++ {
		out = append(out, fmt.Sprintf("%d/%s", n, proto))
	}
	return out, nil
}
