package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/xbuild/xbuild/build"
	"github.com/xbuild/xbuild/exporter"
	"github.com/xbuild/xbuild/image"
	"github.com/xbuild/xbuild/progress"
	"github.com/xbuild/xbuild/registry"
)

// exportRequest is what a build asked to do with its image besides naming
// it in the local store.
type exportRequest struct {
	outputs      []exporter.Output
	tags         []string // -t, normalized
	push         bool     // --push
	metadataFile string
	client       func() *registry.Client
}

// export writes every -o output and pushes, then writes --metadata-file.
func export(ctx context.Context, sys *build.System, pr *progress.Printer, img *image.Image, req exportRequest) error {
	src := exporter.Source{Blobs: sys.Content, Snapshots: sys.Snapshots, TmpDir: sys.Root.TempDir}
	pushed := map[string]string{}
	for _, o := range req.outputs {
		step := pr.Step("exporting to " + o.Type)
		err := exportOne(ctx, src, sys, step, img, o, req, pushed)
		step.Done(err)
		if err != nil {
			return err
		}
	}
	if req.push {
		step := pr.Step("pushing")
		err := pushNames(ctx, sys, step, img, req.tags, req.client(), pushed)
		step.Done(err)
		if err != nil {
			return err
		}
	}
	if req.metadataFile != "" {
		return writeMetadata(req.metadataFile, img, req.tags)
	}
	return nil
}

func exportOne(ctx context.Context, src exporter.Source, sys *build.System, step *progress.Step, img *image.Image, o exporter.Output, req exportRequest, pushed map[string]string) error {
	out, err := o.ImageFor(ctx, src, img)
	if err != nil {
		return err
	}
	// name= wins over -t for this output, as in buildx.
	var names []string
	for _, n := range o.Names {
		ref, err := image.ParseReference(n)
		if err != nil {
			return fmt.Errorf("-o name=%s: %w", n, err)
		}
		names = append(names, ref.String())
	}
	if len(names) == 0 {
		names = append(names, req.tags...)
	}
	named := []exporter.Named{{Image: out, Names: names}}
	switch o.Type {
	case exporter.TypeImage:
		for _, n := range names {
			if err := sys.Images.Tag(ctx, n, out); err != nil {
				return err
			}
			step.Printf("naming to %s done", n)
		}
		if o.Push {
			return pushNames(ctx, sys, step, out, names, req.client(), pushed)
		}
		return nil
	case exporter.TypeRegistry:
		if len(names) == 0 {
			return fmt.Errorf("-o type=registry needs a name: -t NAME or name=NAME")
		}
		return pushNames(ctx, sys, step, out, names, req.client(), pushed)
	case exporter.TypeLocal:
		return done(step, o, exporter.WriteLocal(ctx, src, out, o.Dest))
	case exporter.TypeOCI, exporter.TypeDocker:
		if !o.Tar && o.Type == exporter.TypeOCI {
			return done(step, o, exporter.WriteOCIDir(ctx, src, named, o.Dest))
		}
		if !o.Tar {
			return done(step, o, exporter.WriteDockerDir(ctx, src, named, o.Dest))
		}
	}
	w, finish, err := openDest(o.Dest)
	if err != nil {
		return err
	}
	switch o.Type {
	case exporter.TypeTar:
		err = exporter.WriteFSTar(ctx, src, out, w)
	case exporter.TypeOCI:
		err = exporter.WriteOCITar(ctx, src, named, w)
	case exporter.TypeDocker:
		err = exporter.WriteDocker(ctx, src, named, w)
	default:
		err = fmt.Errorf("unknown output type %q", o.Type)
	}
	if ferr := finish(err == nil); err == nil {
		err = ferr
	}
	return done(step, o, err)
}

func done(step *progress.Step, o exporter.Output, err error) error {
	if err == nil {
		step.Printf("writing %s to %s done", o.Type, o.Dest)
	}
	return err
}

// openDest opens a file output: stdout for "-", else a temp file renamed
// into place only when the export succeeded. Directory outputs (tar=false)
// write to dest themselves and get a no-op writer.
func openDest(dest string) (io.Writer, func(ok bool) error, error) {
	if dest == "-" {
		return os.Stdout, func(bool) error { return nil }, nil
	}
	f, err := os.CreateTemp(dirOf(dest), ".xbuild-export-*")
	if err != nil {
		return nil, nil, fmt.Errorf("open output %s: %w", dest, err)
	}
	return f, func(ok bool) error {
		cerr := f.Close()
		if !ok || cerr != nil {
			os.Remove(f.Name())
			return cerr
		}
		if err := os.Rename(f.Name(), dest); err != nil {
			os.Remove(f.Name())
			return fmt.Errorf("write output %s: %w", dest, err)
		}
		return nil
	}, nil
}

func dirOf(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			if i == 0 {
				return "/"
			}
			return p[:i]
		}
	}
	return "."
}

func pushNames(ctx context.Context, sys *build.System, step *progress.Step, img *image.Image, names []string, client *registry.Client, pushed map[string]string) error {
	if len(names) == 0 {
		return fmt.Errorf("--push needs a name: give -t NAME")
	}
	for _, n := range names {
		if pushed[n] == img.Descriptor.Digest.String() {
			continue
		}
		d, err := client.Push(ctx, n, sys.Content, img.Descriptor)
		if err != nil {
			return err
		}
		pushed[n] = d.String()
		step.Printf("pushing %s with digest %s done", n, d)
	}
	return nil
}

// writeMetadata writes --metadata-file as buildx does.
func writeMetadata(path string, img *image.Image, names []string) error {
	meta := map[string]any{
		"containerimage.config.digest": img.ID(),
		"containerimage.digest":        img.Descriptor.Digest,
		"containerimage.descriptor":    img.Descriptor,
	}
	if len(names) > 0 {
		joined := ""
		for i, n := range names {
			if i > 0 {
				joined += ","
			}
			joined += n
		}
		meta["image.name"] = joined
	}
	b, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write --metadata-file: %w", err)
	}
	return nil
}
