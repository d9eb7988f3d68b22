package convert

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/opencontainers/go-digest"

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
	checksum string
	excludes []string
	parents  bool
	unpack   *bool // ADD --unpack: nil = local archives only
	keepGit  bool  // ADD --keep-git-dir
}

func (s *stageState) copy(c *instructions.CopyCommand) error {
	return s.doCopy(copyParams{cmd: c, sd: c.SourcesAndDest, from: c.From, chown: c.Chown, chmod: c.Chmod, excludes: c.ExcludePatterns, parents: c.Parents})
}

func (s *stageState) add(c *instructions.AddCommand) error {
	keepGit := c.KeepGitDir != nil && *c.KeepGitDir
	return s.doCopy(copyParams{cmd: c, add: true, sd: c.SourcesAndDest, chown: c.Chown, chmod: c.Chmod, checksum: c.Checksum, excludes: c.ExcludePatterns, unpack: c.Unpack, keepGit: keepGit})
}

// checkChmod validates a --chmod value as BuildKit does: an octal mode up
// to 07777 or a symbolic mode (u=rwx,g+x).
func checkChmod(chmod string) error {
	if chmod == "" {
		return nil
	}
	_, err := llb.ParseChmod(chmod)
	return err
}

func isURL(s string) bool {
	for _, p := range []string{"http://", "https://", "git@", "git://", "ssh://"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// isHTTP reports whether src is an HTTP(S) URL that is not a git
// repository.
func isHTTP(src string) bool {
	if !strings.HasPrefix(src, "http://") && !strings.HasPrefix(src, "https://") {
		return false
	}
	u, err := url.Parse(src)
	if err != nil {
		return true
	}
	return !strings.HasSuffix(u.Path, ".git") && !strings.Contains(u.Fragment, ":")
}

func (s *stageState) doCopy(p copyParams) error {
	name := "COPY"
	if p.add {
		name = "ADD"
	}
	if err := checkChmod(p.chmod); err != nil {
		return err
	}
	if err := p.sd.ExpandRaw(func(word string) (string, error) {
		lex := shell.NewLex('\\')
		lex.SkipProcessQuotes = true
		w, _, err := lex.ProcessWord(word, s.expandEnv())
		return w, err
	}); err != nil {
		return err
	}
	urls, gits, paths, err := s.urlSources(p)
	if err != nil {
		return err
	}
	orig := p.sd.SourcePaths
	p.sd.SourcePaths = paths
	dest := s.absPath(p.sd.DestPath)
	// ADD unpacks local archives unless --unpack=false, and downloaded
	// ones only with --unpack=true, as BuildKit.
	extract := p.add && (p.unpack == nil || *p.unpack)
	unpackURLs := p.add && p.unpack != nil && *p.unpack
	op := llb.CopyOp{Dest: dest, Chown: p.chown, Chmod: p.chmod, FromCtx: p.from == "", Extract: extract, AllowEmpty: true,
		Excludes: p.excludes, Parents: p.parents, URLs: urls, Git: gits, UnpackURLs: unpackURLs}
	for _, h := range p.sd.SourceContents {
		op.Inline = append(op.Inline, llb.InlineFile{Name: h.Path, Data: h.Data})
	}
	inputs := []*llb.Vertex{s.vertex}
	if len(paths) > 0 {
		// Several sources into a destination without a trailing slash are
		// checked when the step runs: an existing directory is fine (BuildKit).
		src, sources, pivots, err := s.copySource(p)
		if err != nil {
			return err
		}
		op.Sources, op.Pivots = sources, pivots
		inputs = append(inputs, src)
	} else {
		op.FromCtx = false
	}
	s.vertex = newStep(op, s.meta(p.cmd), inputs...)

	msg := name
	if p.parents {
		msg += " --parents"
	}
	if p.chown != "" {
		msg += " --chown=" + p.chown
	}
	if p.chmod != "" {
		msg += " --chmod=" + p.chmod
	}
	for _, src := range orig {
		msg += " " + src
	}
	for _, src := range p.sd.SourceContents {
		msg += " <<" + src.Path
	}
	s.history(msg+" "+p.sd.DestPath+" # buildkit", true)
	return nil
}

// urlSources splits the HTTP(S) sources of an ADD from the others and
// checks --checksum as BuildKit does.
func (s *stageState) urlSources(p copyParams) ([]llb.URLSource, []llb.GitSource, []string, error) {
	var urls []llb.URLSource
	var gits []llb.GitSource
	var paths []string
	for _, src := range p.sd.SourcePaths {
		if isURL(src) && !isHTTP(src) {
			if !p.add {
				return nil, nil, nil, errors.New("source can't be a git ref for COPY")
			}
			gits = append(gits, parseGitSource(src, p.keepGit))
			continue
		}
		if !isHTTP(src) {
			paths = append(paths, src)
			continue
		}
		if !p.add {
			return nil, nil, nil, errors.New("source can't be a URL for COPY")
		}
		f := "__unnamed__"
		if u, err := url.Parse(src); err == nil {
			if base := path.Base(u.Path); base != "." && base != "/" {
				f = base
			}
		}
		urls = append(urls, llb.URLSource{URL: src, Filename: f})
	}
	if p.checksum != "" {
		if len(p.sd.SourcePaths) != 1 {
			return nil, nil, nil, errors.New("checksum can't be specified for multiple sources")
		}
		if len(gits) == 1 {
			return nil, nil, nil, notSupported("ADD --checksum of a git source")
		}
		if len(urls) != 1 {
			return nil, nil, nil, errors.New("checksum requires HTTP(S) or Git sources")
		}
		d, err := digest.Parse(p.checksum)
		if err != nil {
			return nil, nil, nil, err
		}
		urls[0].Checksum = d
	}
	return urls, gits, paths, nil
}

// parseGitSource splits "REMOTE#REF:SUBDIR" as ADD takes a git source.
func parseGitSource(src string, keep bool) llb.GitSource {
	g := llb.GitSource{Remote: src, KeepGitDir: keep}
	if i := strings.LastIndexByte(src, '#'); i >= 0 {
		g.Remote = src[:i]
		g.Ref, g.Subdir, _ = strings.Cut(src[i+1:], ":")
		g.Subdir = strings.Trim(path.Clean("/"+g.Subdir), "/")
	}
	return g
}

// copySource returns the vertex the files come from, the source paths
// within it and, with --parents, each one's pivot.
func (s *stageState) copySource(p copyParams) (*llb.Vertex, []string, []string, error) {
	if strings.Contains(p.from, "$") {
		return nil, nil, nil, fmt.Errorf("variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround")
	}
	var srcs, pivots []string
	for _, src := range p.sd.SourcePaths {
		if p.from == "" {
			if rel := path.Clean(src); rel == ".." || strings.HasPrefix(rel, "../") {
				return nil, nil, nil, fmt.Errorf("%s: forbidden path outside the build context", src)
			}
		}
		pivot := ""
		if p.parents {
			if parent, pattern, ok := strings.Cut(src, "/./"); ok {
				pivot = strings.TrimPrefix(path.Clean("/"+parent), "/")
				src = parent + "/" + pattern
			}
			pivots = append(pivots, pivot)
		}
		clean := path.Clean("/" + src)
		if p.from == "" {
			clean = strings.TrimPrefix(clean, "/")
		}
		srcs = append(srcs, clean)
	}
	if p.from == "" {
		v := llb.New(llb.ContextOp{Name: "context", Includes: srcs, Excludes: s.c.opt.Excludes, CopyExcludes: p.excludes}, llb.Meta{})
		return v, srcs, pivots, nil
	}
	st, err := s.c.stageRef(p.from, s.index)
	if err != nil {
		return nil, nil, nil, err
	}
	if st != nil {
		if err := s.c.dispatch(st); err != nil {
			return nil, nil, nil, err
		}
		return st.vertex, srcs, pivots, nil
	}
	img, err := s.c.opt.Images.Get(s.c.ctx, p.from)
	if err != nil {
		if errors.Is(err, image.ErrNotFound) {
			return nil, nil, nil, fmt.Errorf("--from=%s: no stage or image named %q (xbuild looks in its local image store; pulling is not supported yet)", p.from, p.from)
		}
		return nil, nil, nil, fmt.Errorf("--from=%s: %w", p.from, err)
	}
	ref, _ := image.ParseReference(p.from)
	v := llb.New(llb.ImageOp{Ref: ref.String(), Manifest: img.Descriptor.Digest}, llb.Meta{Internal: true, Name: "[internal] load " + ref.String()})
	return v, srcs, pivots, nil
}
