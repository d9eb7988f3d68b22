package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/xbuild/xbuild/buildcontext"
	"github.com/xbuild/xbuild/cache"
	"github.com/xbuild/xbuild/convert"
	"github.com/xbuild/xbuild/image"
	"github.com/xbuild/xbuild/ops"
	"github.com/xbuild/xbuild/parser"
	"github.com/xbuild/xbuild/progress"
	"github.com/xbuild/xbuild/registry"
	"github.com/xbuild/xbuild/solver"
)

// Options describe one build.
type Options struct {
	ContextDir string
	Dockerfile string    // path; "" = <context>/Dockerfile; "-" = read Stdin
	Stdin      io.Reader // for Dockerfile "-"
	Tags       []string
	BuildArgs  map[string]string
	Labels     map[string]string
	Target     string
	NoCache    bool
	// NoCacheFilter names stages whose steps skip cache lookups.
	NoCacheFilter []string
	// Network is the network mode of RUN steps without their own
	// --network: "" or "default", "none", "host".
	Network  string
	Progress *progress.Printer
	// Pull asks the registry for every base image even when the local
	// store has it; Registry (nil: local images only) is used for base
	// images the store lacks.
	Pull     bool
	Registry *registry.Client
	// Secrets are the values of --secret, for RUN --mount=type=secret.
	Secrets ops.Secrets
}

// Result is a finished build.
type Result struct {
	Image    *image.Image
	Names    []string // normalized names tagged
	Warnings []string
}

// Build runs a build in the state directory of sys.
func Build(ctx context.Context, sys *System, opt Options) (*Result, error) {
	df, dfPath, err := readDockerfile(opt)
	if err != nil {
		return nil, err
	}
	for _, t := range opt.Tags {
		if _, err := image.ParseReference(t); err != nil {
			return nil, fmt.Errorf("invalid tag %q: %w", t, err)
		}
	}
	excludes, err := parser.ReadIgnore(opt.ContextDir, dfPath)
	if err != nil {
		return nil, err
	}
	ctxDir, err := buildcontext.Open(opt.ContextDir, excludes)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(ctxDir.Root()); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("unable to prepare context: path %q not found", opt.ContextDir)
	}
	conv, err := convert.Convert(ctx, convert.Options{
		Dockerfile: df, BuildArgs: opt.BuildArgs, Target: opt.Target, Excludes: excludes,
		Network: opt.Network, NoCacheStages: opt.NoCacheFilter,
		Images: &imageSource{sys: sys, client: opt.Registry, pull: opt.Pull, progress: opt.Progress},
	})
	if err != nil {
		return nil, err
	}
	memo, err := buildcontext.LoadMemo(ctx, sys.Root, ctxDir.Root())
	if err != nil {
		return nil, err
	}
	env := sys.opsEnv(ctxDir, memo)
	defer env.Cleanup()
	s := solver.New(solver.Options{
		Cache: sys.Cache, Resolve: ops.ResolveWithSecrets(env, opt.Secrets), Reporter: opt.Progress, Valid: env.Valid, NoCache: opt.NoCache,
	})
	rec, err := s.Solve(ctx, conv.Vertex)
	if serr := memo.Save(context.WithoutCancel(ctx)); serr != nil && err == nil {
		err = serr
	}
	if err != nil {
		return nil, locate(df, err)
	}
	step := opt.Progress.Step("exporting to image")
	img, err := writeImage(ctx, sys, conv.Image, rec, opt.Labels)
	if err != nil {
		step.Done(err)
		return nil, err
	}
	step.Printf("writing image %s done", img.ID())
	res := &Result{Image: img, Warnings: append(df.Warnings, conv.Warnings...)}
	for _, t := range opt.Tags {
		if err := sys.Images.Tag(ctx, t, img); err != nil {
			step.Done(err)
			return nil, err
		}
		ref, _ := image.ParseReference(t)
		res.Names = append(res.Names, ref.String())
		step.Printf("naming to %s done", ref.String())
	}
	step.Done(nil)
	return res, nil
}

func readDockerfile(opt Options) (*parser.Dockerfile, string, error) {
	path := opt.Dockerfile
	var src []byte
	var err error
	switch path {
	case "-":
		if opt.Stdin == nil {
			return nil, "", errors.New("no Dockerfile on standard input")
		}
		src, err = io.ReadAll(opt.Stdin)
	case "":
		path = filepath.Join(opt.ContextDir, "Dockerfile")
		src, err = os.ReadFile(path)
	default:
		src, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, "", fmt.Errorf("failed to read dockerfile: %w", err)
	}
	name := "Dockerfile"
	if path != "-" {
		name = filepath.Base(path)
	}
	df, err := parser.Parse(name, src)
	return df, path, err
}

// locate turns a solver error into one that names the Dockerfile line of
// the failing vertex.
func locate(df *parser.Dockerfile, err error) error {
	var ve *solver.VertexError
	if !errors.As(err, &ve) {
		return err
	}
	m := ve.Vertex.Meta()
	if m.Line == 0 {
		return ve.Err
	}
	text := m.Text
	if text == "" {
		text = df.Line(m.Line)
	}
	return &parser.Error{File: m.File, Line: m.Line, Err: fmt.Errorf("%s: %w", text, ve.Err), Source: df.Source()}
}

// writeImage completes the config (layers, times, labels) and stores it.
func writeImage(ctx context.Context, sys *System, cfg dockerspec.DockerOCIImage, rec *cache.Record, labels map[string]string) (*image.Image, error) {
	if len(labels) > 0 && cfg.Config.Labels == nil {
		cfg.Config.Labels = map[string]string{}
	}
	for k, v := range labels {
		cfg.Config.Labels[k] = v
	}
	cfg.RootFS.Type = "layers"
	cfg.RootFS.DiffIDs = make([]digest.Digest, 0, len(rec.Layers))
	descs := make([]ocispec.Descriptor, 0, len(rec.Layers))
	for _, l := range rec.Layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.DiffID)
		descs = append(descs, l.Blob)
	}
	fillTimes(&cfg, rec.Layers)
	return image.Write(ctx, sys.Content, cfg, descs)
}

// fillTimes dates history entries as BuildKit's image exporter does
// (normalizeLayersAndHistory): a layer entry without a time gets the time
// its layer was made; an entry still without one gets the time of the
// first new layer when it comes before it, else the time of the entry
// before it. The image is dated by its last dated entry, and stays undated
// when no entry has a time. Cached layers keep their times, so an
// unchanged build produces the same image ID.
func fillTimes(cfg *dockerspec.DockerOCIImage, layers []cache.Layer) {
	h := cfg.History
	li := 0
	for i := range h {
		if h[i].EmptyLayer {
			continue
		}
		if h[i].Created == nil && li < len(layers) && !layers[li].Created.IsZero() {
			t := layers[li].Created
			h[i].Created = &t
		}
		li++
	}
	// The first time after the first undated entry, else the last time.
	var created *time.Time
	undated := false
	for i := range h {
		if h[i].Created == nil {
			undated = true
			continue
		}
		created = h[i].Created
		if undated {
			break
		}
	}
	undated = false
	for i := range h {
		switch {
		case h[i].Created == nil:
			undated = true
			h[i].Created = copyTime(created)
		case undated:
			created = h[i].Created
		}
	}
	cfg.Created = nil
	for i := range h {
		if h[i].Created != nil {
			cfg.Created = copyTime(h[i].Created)
		}
	}
}

func copyTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}
