package convert

import (
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/xbuild/xbuild/image"
	"github.com/xbuild/xbuild/llb"
)

type copyParams struct {
	cmd      instructions.Command
	add      bool
	sd       instructions.SourcesAndDest
	from     string
	chown    string
	chmod    string
	excludes []string
	parents  bool
}

func (s *stageState) copy(c *instructions.CopyCommand) error {
	return s.doCopy(copyParams{cmd: c, sd: c.SourcesAndDest, from: c.From, chown: c.Chown, chmod: c.Chmod, excludes: c.ExcludePatterns, parents: c.Parents})
}

func (s *stageState) add(c *instructions.AddCommand) error {
	if c.Checksum != "" {
		return notSupported("ADD --checksum")
	}
	if c.KeepGitDir != nil {
		return notSupported("ADD --keep-git-dir")
	}
	if c.Unpack != nil {
		return notSupported("ADD --unpack")
	}
	for _, src := range c.SourcePaths {
		if isURL(src) {
			return notSupported("ADD from a URL or git repository")
		}
	}
	return s.doCopy(copyParams{cmd: c, add: true, sd: c.SourcesAndDest, chown: c.Chown, chmod: c.Chmod, excludes: c.ExcludePatterns})
}

// checkChmod validates a --chmod value as BuildKit does: an octal mode up
// to 07777. Symbolic modes (u+x) are not supported yet.
func checkChmod(name, chmod string) error {
	if chmod == "" {
		return nil
	}
	bad := fmt.Errorf("invalid chmod parameter: '%v'. it should be octal string and between 0 and 07777", chmod)
	m, err := strconv.ParseUint(chmod, 8, 32)
	switch {
	case err == nil && m > 0o7777:
		return bad
	case err == nil:
		return nil
	case strings.Trim(chmod, "0123456789") == "":
		return bad // looks numeric
	}
	return notSupported(fmt.Sprintf("%s --chmod=%s (only octal modes are supported)", name, chmod))
}

func isURL(s string) bool {
	for _, p := range []string{"http://", "https://", "git@", "git://", "ssh://"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func (s *stageState) doCopy(p copyParams) error {
	name := "COPY"
	if p.add {
		name = "ADD"
	}
	switch {
	case len(p.sd.SourceContents) > 0:
		return notSupported(name + " with a heredoc")
	case p.parents:
		return notSupported(name + " --parents")
	case len(p.excludes) > 0:
		return notSupported(name + " --exclude")
	}
	if err := checkChmod(name, p.chmod); err != nil {
		return err
	}
	dest := s.absPath(p.sd.DestPath)
	// Several sources into a destination without a trailing slash are
	// checked when the step runs: an existing directory is fine (BuildKit).
	src, sources, err := s.copySource(p)
	if err != nil {
		return err
	}
	op := llb.CopyOp{Sources: sources, Dest: dest, Chown: p.chown, Chmod: p.chmod, FromCtx: p.from == "", Extract: p.add, AllowEmpty: true}
	s.vertex = newStep(op, s.meta(p.cmd), s.vertex, src)

	msg := name
	if p.chown != "" {
		msg += " --chown=" + p.chown
	}
	if p.chmod != "" {
		msg += " --chmod=" + p.chmod
	}
	for _, src := range p.sd.SourcePaths {
		msg += " " + src
	}
	s.history(msg+" "+p.sd.DestPath+" # buildkit", true)
	return nil
}

// copySource returns the vertex the files come from and the source paths
// within it.
func (s *stageState) copySource(p copyParams) (*llb.Vertex, []string, error) {
	if p.from == "" {
		var srcs []string
		for _, src := range p.sd.SourcePaths {
			clean := path.Clean("/" + src)
			if rel := path.Clean(src); rel == ".." || strings.HasPrefix(rel, "../") {
				return nil, nil, fmt.Errorf("%s: forbidden path outside the build context", src)
			}
			srcs = append(srcs, strings.TrimPrefix(clean, "/"))
		}
		v := llb.New(llb.ContextOp{Name: "context", Includes: srcs, Excludes: s.c.opt.Excludes}, llb.Meta{})
		return v, srcs, nil
	}
	var srcs []string
	for _, src := range p.sd.SourcePaths {
		srcs = append(srcs, path.Clean("/"+src))
	}
	st, err := s.c.stageRef(p.from, s.index)
	if err != nil {
		return nil, nil, err
	}
	if st != nil {
		if err := s.c.dispatch(st); err != nil {
			return nil, nil, err
		}
		return st.vertex, srcs, nil
	}
	img, err := s.c.opt.Images.Get(s.c.ctx, p.from)
	if err != nil {
		if errors.Is(err, image.ErrNotFound) {
			return nil, nil, fmt.Errorf("--from=%s: no stage or image named %q (xbuild looks in its local image store; pulling is not supported yet)", p.from, p.from)
		}
		return nil, nil, fmt.Errorf("--from=%s: %w", p.from, err)
	}
	ref, _ := image.ParseReference(p.from)
	v := llb.New(llb.ImageOp{Ref: ref.String(), Manifest: img.Descriptor.Digest}, llb.Meta{Internal: true, Name: "[internal] load " + ref.String()})
	return v, srcs, nil
}
