package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/xbuild/xbuild/build"
	"github.com/xbuild/xbuild/exporter"
	"github.com/xbuild/xbuild/image"
	"github.com/xbuild/xbuild/registry"
)

func registryClient(g *globals, sys *build.System) func() *registry.Client {
	return func() *registry.Client {
		return sys.Registry(build.RegistryOptions{Insecure: g.insecure, Progress: progressLines(g)})
	}
}

// progressLines prints registry transfer events on stderr unless quiet.
func progressLines(g *globals) func(string) {
	return func(ev string) {
		if g.progress != "quiet" {
			fmt.Fprintln(os.Stderr, ev)
		}
	}
}

func runPull(ctx context.Context, g *globals, args []string) error {
	fs := flagSet("pull", g)
	platform := fs.String("platform", "", "pick this platform (os/arch[/variant]) from a multi-platform image")
	rest, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	var opts build.RegistryOptions
	if *platform != "" {
		if opts.Platform, err = build.ParsePlatform(*platform); err != nil {
			return usageError{err}
		}
	}
	sys, err := openSystem(g)
	if err != nil {
		return err
	}
	ref, err := image.ParseReference(rest[0])
	if err != nil {
		return usageError{err}
	}
	opts.Insecure, opts.Progress = g.insecure, progressLines(g)
	img, err := build.Pull(ctx, sys, sys.Registry(opts), ref.String())
	if err != nil {
		return err
	}
	fmt.Printf("Digest: %s\nStatus: Downloaded newer image for %s\n%s\n", img.Descriptor.Digest, ref.Familiar(), ref.String())
	return nil
}

func runPush(ctx context.Context, g *globals, args []string) error {
	fs := flagSet("push", g)
	rest, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	sys, err := openSystem(g)
	if err != nil {
		return err
	}
	ref, err := image.ParseReference(rest[0])
	if err != nil {
		return usageError{err}
	}
	img, err := sys.Images.Get(ctx, rest[0])
	if err != nil {
		return err
	}
	fmt.Printf("The push refers to repository [%s]\n", ref.Repository())
	d, err := registryClient(g, sys)().Push(ctx, ref.String(), sys.Content, img.Descriptor)
	if err != nil {
		return err
	}
	fmt.Printf("%s: digest: %s size: %d\n", ref.Tag, d, img.Descriptor.Size)
	return nil
}

func runSave(ctx context.Context, g *globals, args []string) error {
	fs := flagSet("save", g)
	out := fs.StringP("output", "o", "", "write to a file instead of standard output")
	format := fs.String("format", "docker", "archive format: docker or oci")
	rest, err := parse(fs, args, 1, -1)
	if err != nil {
		return err
	}
	if *format != "docker" && *format != "oci" {
		return usageError{fmt.Errorf("invalid --format %q: docker or oci", *format)}
	}
	sys, err := openSystem(g)
	if err != nil {
		return err
	}
	var named []exporter.Named
	for _, n := range rest {
		img, err := sys.Images.Get(ctx, n)
		if err != nil {
			return err
		}
		var names []string
		if ref, err := image.ParseReference(n); err == nil {
			names = []string{ref.String()}
		}
		named = append(named, exporter.Named{Image: img, Names: names})
	}
	dest := *out
	if dest == "" {
		dest = "-"
	}
	w, finish, err := openDest(dest)
	if err != nil {
		return err
	}
	src := exporter.Source{Blobs: sys.Content, Snapshots: sys.Snapshots, TmpDir: sys.Root.TempDir}
	if *format == "oci" {
		err = exporter.WriteOCITar(ctx, src, named, w)
	} else {
		err = exporter.WriteDocker(ctx, src, named, w)
	}
	if ferr := finish(err == nil); err == nil {
		err = ferr
	}
	return err
}

func runLoad(ctx context.Context, g *globals, args []string) error {
	fs := flagSet("load", g)
	in := fs.StringP("input", "i", "", "read from a file (or an OCI layout directory) instead of standard input")
	fs.BoolP("quiet", "q", false, "accepted for docker compatibility")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	sys, err := openSystem(g)
	if err != nil {
		return err
	}
	src := exporter.Source{Blobs: sys.Content, Snapshots: sys.Snapshots, TmpDir: sys.Root.TempDir}
	var named []exporter.Named
	switch fi, statErr := os.Stat(*in); {
	case *in == "":
		named, err = exporter.Load(ctx, src, io.Reader(os.Stdin))
	case statErr == nil && fi.IsDir():
		named, err = exporter.LoadDir(ctx, src, *in)
	default:
		f, oerr := os.Open(*in)
		if oerr != nil {
			return oerr
		}
		defer f.Close()
		named, err = exporter.Load(ctx, src, f)
	}
	if err != nil {
		return err
	}
	for _, n := range named {
		if len(n.Names) == 0 {
			fmt.Printf("Loaded image ID: %s\n", n.Image.ID())
			continue
		}
		for _, name := range n.Names {
			if err := sys.Images.Tag(ctx, name, n.Image); err != nil {
				return err
			}
			ref, _ := image.ParseReference(name)
			fmt.Printf("Loaded image: %s\n", ref.Familiar())
		}
	}
	return nil
}
