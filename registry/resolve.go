package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Manifest media types, Docker's and OCI's.
const (
	mediaDockerManifest = string(types.DockerManifestSchema2)
	mediaDockerList     = string(types.DockerManifestList)
	mediaOCIManifest    = ocispec.MediaTypeImageManifest
	mediaOCIIndex       = ocispec.MediaTypeImageIndex
)

// manifest is an image manifest as the registry served it.
type manifest struct {
	desc ocispec.Descriptor // media type, digest, size (and platform when picked from an index)
	raw  []byte
	m    ocispec.Manifest // parsed; Docker schema2 has the same shape
	repo name.Repository  // where it was found
	p    *remote.Puller   // how it was fetched (auth done)
}

// Resolve returns the descriptor of ref's image manifest (after the
// platform pick from an index) without downloading any blob.
func (c *Client) Resolve(ctx context.Context, ref string) (ocispec.Descriptor, error) {
	m, err := c.resolve(ctx, ref)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("resolve %s: %w", ref, err)
	}
	return m.desc, nil
}

// resolve fetches ref's manifest, following an index to the image for
// c's platform.
func (c *Client) resolve(ctx context.Context, ref string) (*manifest, error) {
	if c.keyErr != nil {
		return nil, c.keyErr
	}
	nref, err := c.parseRef(ref)
	if err != nil {
		return nil, err
	}
	p, err := remote.NewPuller(c.remoteOptions(ctx, c.transport)...)
	if err != nil {
		return nil, err
	}
	m, err := c.fetchManifest(ctx, p, nref, 0)
	if err != nil {
		return nil, classify(err)
	}
	return m, nil
}

func (c *Client) fetchManifest(ctx context.Context, p *remote.Puller, ref name.Reference, depth int) (*manifest, error) {
	d, err := p.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	mt, err := manifestMediaType(d.Manifest, string(d.MediaType))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", c.url(ref.Context(), "manifests", ref.Identifier()), err)
	}
	desc := ocispec.Descriptor{MediaType: mt, Digest: digest.Digest(d.Digest.String()), Size: d.Size}
	switch mt {
	case mediaOCIIndex, mediaDockerList:
		if depth > 2 {
			return nil, fmt.Errorf("index %s: indexes nested too deep", desc.Digest)
		}
		child, err := c.pickPlatform(d.Manifest)
		if err != nil {
			return nil, fmt.Errorf("index %s: %w", desc.Digest, err)
		}
		m, err := c.fetchManifest(ctx, p, ref.Context().Digest(child.Digest.String()), depth+1)
		if err != nil {
			return nil, err
		}
		if m.desc.Platform == nil {
			m.desc.Platform = child.Platform
		}
		return m, nil
	}
	m := &manifest{desc: desc, raw: d.Manifest, repo: ref.Context(), p: p}
	if err := json.Unmarshal(d.Manifest, &m.m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	switch m.m.Config.MediaType {
	case ocispec.MediaTypeImageConfig, string(types.DockerConfigJSON):
	default:
		return nil, fmt.Errorf("manifest %s is not a container image (config media type %q)", desc.Digest, m.m.Config.MediaType)
	}
	return m, nil
}

// manifestMediaType is the media type of a manifest: its own mediaType
// field, else the Content-Type the registry sent, else what its shape says.
// Schema1 and non-manifest types are refused.
func manifestMediaType(raw []byte, header string) (string, error) {
	var probe struct {
		SchemaVersion int               `json:"schemaVersion"`
		MediaType     string            `json:"mediaType"`
		Manifests     []json.RawMessage `json:"manifests"`
		Config        json.RawMessage   `json:"config"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return "", fmt.Errorf("manifest is not JSON: %w", err)
	}
	if probe.SchemaVersion == 1 || strings.HasPrefix(header, "application/vnd.docker.distribution.manifest.v1") {
		return "", errors.New("unsupported manifest: Docker schema1 is deprecated and not supported; push the image again with a current client")
	}
	mt := probe.MediaType
	if mt == "" {
		mt, _, _ = strings.Cut(header, ";")
		mt = strings.TrimSpace(mt)
	}
	switch mt {
	case mediaOCIIndex, mediaDockerList, mediaOCIManifest, mediaDockerManifest:
		return mt, nil
	}
	switch {
	case probe.Manifests != nil:
		return mediaOCIIndex, nil
	case probe.Config != nil:
		return mediaOCIManifest, nil
	}
	return "", fmt.Errorf("unsupported manifest media type %q", mt)
}

// pickPlatform returns the index entry for c's platform: OS and
// architecture must match; an exact variant beats a missing one, which
// beats the newest older variant that still runs (arm v6 on v7); an empty
// wanted variant accepts any.
func (c *Client) pickPlatform(raw []byte) (ocispec.Descriptor, error) {
	var idx ocispec.Index
	if err := json.Unmarshal(raw, &idx); err != nil {
		return ocispec.Descriptor{}, err
	}
	want := c.opt.Platform
	best, bestScore := -1, 0
	var seen []string
	for i, d := range idx.Manifests {
		p := d.Platform
		if p == nil || p.OS == "unknown" {
			continue // attestations and unlabeled entries
		}
		seen = append(seen, platformString(*p))
		if p.OS != want.OS || p.Architecture != want.Architecture {
			continue
		}
		score := 1
		switch {
		case want.Variant == "" || p.Variant == want.Variant:
			score = 3
		case p.Variant == "":
			score = 2
		case !variantCompatible(want.Variant, p.Variant):
			continue
		}
		if score > bestScore || (score == 1 && bestScore == 1 && p.Variant > idx.Manifests[best].Platform.Variant) {
			best, bestScore = i, score
		}
	}
	if best < 0 {
		return ocispec.Descriptor{}, fmt.Errorf("no image for platform %s (index has: %s)", platformString(want), strings.Join(seen, ", "))
	}
	return idx.Manifests[best], nil
}

// variantCompatible reports whether an image built for variant have runs
// on a machine of variant want (arm v7 runs v6 and v5 images).
func variantCompatible(want, have string) bool {
	return strings.HasPrefix(want, "v") && strings.HasPrefix(have, "v") && have < want && len(have) == len(want)
}

func platformString(p ocispec.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}
