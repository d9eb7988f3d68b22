package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/docker/go-units"

	"github.com/xbuild/xbuild/build"
	"github.com/xbuild/xbuild/image"
)

func runImages(ctx context.Context, g *globals, args []string) error {
	fs := flagSet("images", g)
	quiet := fs.BoolP("quiet", "q", false, "only show image IDs")
	noTrunc := fs.Bool("no-trunc", false, "do not truncate output")
	if _, err := parse(fs, args, 0, 1); err != nil {
		return err
	}
	sys, err := openSystem(g)
	if err != nil {
		return err
	}
	list, err := sys.Images.List(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 10, 1, 3, ' ', 0)
	if !*quiet {
		fmt.Fprintln(tw, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE")
	}
	for _, n := range list {
		ref, err := image.ParseReference(n.Name)
		if err != nil {
			continue
		}
		id := shortID(n.ID.String(), *noTrunc)
		if *quiet {
			fmt.Fprintln(tw, id)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", ref.FamiliarRepository(), ref.Tag, id, since(n.Created), humanSize(n.Size))
	}
	return tw.Flush()
}

func shortID(id string, noTrunc bool) string {
	if noTrunc {
		return id
	}
	if len(id) > 7+12 {
		return id[7 : 7+12]
	}
	return id
}

func since(t time.Time) string {
	if t.IsZero() || t.Unix() <= 0 {
		return "N/A"
	}
	return units.HumanDuration(time.Since(t)) + " ago"
}

func humanSize(n int64) string { return units.HumanSizeWithPrecision(float64(n), 3) }

func runInspect(ctx context.Context, g *globals, args []string) error {
	fs := flagSet("inspect", g)
	rest, err := parse(fs, args, 1, -1)
	if err != nil {
		return err
	}
	sys, err := openSystem(g)
	if err != nil {
		return err
	}
	var out []any
	for _, name := range rest {
		img, err := sys.Images.Get(ctx, name)
		if err != nil {
			return err
		}
		names, err := sys.Images.NamesOf(ctx, img.Descriptor.Digest)
		if err != nil {
			return err
		}
		out = append(out, image.Inspect(img, names))
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "    ")
	return enc.Encode(out)
}

func runRmi(ctx context.Context, g *globals, args []string) error {
	fs := flagSet("rmi", g)
	fs.BoolP("force", "f", false, "accepted for docker compatibility")
	rest, err := parse(fs, args, 1, -1)
	if err != nil {
		return err
	}
	sys, err := openSystem(g)
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range rest {
		n, err := sys.Images.Untag(ctx, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ref, _ := image.ParseReference(n.Name)
		fmt.Printf("Untagged: %s\n", ref.Familiar())
	}
	return errors.Join(errs...)
}

func runTag(ctx context.Context, g *globals, args []string) error {
	fs := flagSet("tag", g)
	rest, err := parse(fs, args, 2, 2)
	if err != nil {
		return err
	}
	sys, err := openSystem(g)
	if err != nil {
		return err
	}
	img, err := sys.Images.Get(ctx, rest[0])
	if err != nil {
		return err
	}
	return sys.Images.Tag(ctx, rest[1], img)
}

func runVersion(ctx context.Context, g *globals, args []string) error {
	fmt.Println("xbuild version", build.Version)
	return nil
}
