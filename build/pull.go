package build

import (
	"context"
	"errors"
	"fmt"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/xbuild/xbuild/image"
	"github.com/xbuild/xbuild/progress"
	"github.com/xbuild/xbuild/registry"
)

// RegistryOptions configure registry access.
type RegistryOptions struct {
	Insecure []string         // hosts reached over plain HTTP (loopback always is)
	Platform ocispec.Platform // picked from indexes; zero: linux and this machine's architecture
	Progress func(string)     // one line per transfer event, or nil
}

// ParsePlatform parses "os/arch[/variant]" as --platform takes it.
func ParsePlatform(s string) (ocispec.Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return ocispec.Platform{}, fmt.Errorf("invalid platform %q: want os/arch[/variant]", s)
	}
	p := ocispec.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

// Registry returns a registry client for this state directory's builds.
func (s *System) Registry(opt RegistryOptions) *registry.Client {
	return registry.New(registry.Options{Insecure: opt.Insecure, Platform: opt.Platform, UserAgent: "xbuild/" + Version, Progress: opt.Progress})
}

// Version is xbuild's version, sent to registries.
var Version = "0.1.0-dev"

// Pull fetches ref (a Docker reference) from its registry into the store
// and names it locally.
func Pull(ctx context.Context, sys *System, client *registry.Client, ref string) (*image.Image, error) {
	r, err := image.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	desc, err := client.Pull(ctx, r.String(), sys.Content)
	if err != nil {
		return nil, err
	}
	img, err := image.Load(ctx, sys.Content, desc.Digest)
	if err != nil {
		return nil, err
	}
	if err := sys.Images.Tag(ctx, r.String(), img); err != nil {
		return nil, err
	}
	return img, nil
}

// imageSource finds base images in the local store and, failing that (or
// always, with --pull), on their registry.
type imageSource struct {
	sys      *System
	client   *registry.Client
	pull     bool
	progress *progress.Printer
}

func (s *imageSource) Get(ctx context.Context, name string) (*image.Image, error) {
	if !s.pull || s.client == nil {
		img, err := s.sys.Images.Get(ctx, name)
		if err == nil || !errors.Is(err, image.ErrNotFound) || s.client == nil {
			return img, err
		}
	}
	ref, err := image.ParseReference(name)
	if err != nil {
		return nil, err
	}
	step := s.progress.Step(fmt.Sprintf("[internal] pull %s", ref.String()))
	img, err := Pull(ctx, s.sys, s.client, ref.String())
	step.Done(err)
	return img, err
}
