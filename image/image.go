package image

import (
	"context"
	"encoding/json"
	"fmt"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/xbuild/xbuild/content"
)

// Image is an image in the local store.
type Image struct {
	Descriptor ocispec.Descriptor // the manifest
	Manifest   ocispec.Manifest
	Config     dockerspec.DockerOCIImage
}

// ID is the config digest, Docker's image ID.
func (img *Image) ID() digest.Digest { return img.Manifest.Config.Digest }

// Size is the sum of the uncompressed layer sizes when known (from the
// layer annotations xbuild writes), else of the compressed sizes.
func (img *Image) Size() int64 {
	var n int64
	for _, l := range img.Manifest.Layers {
		n += LayerSize(l)
	}
	return n
}

// AnnotationUncompressedSize records a layer's uncompressed size on its
// descriptor in xbuild's manifests.
const AnnotationUncompressedSize = "io.xbuild.layer.uncompressed-size"

// LayerSize returns the uncompressed size of a layer descriptor when known.
func LayerSize(d ocispec.Descriptor) int64 {
	var n int64
	if s, ok := d.Annotations[AnnotationUncompressedSize]; ok {
		if _, err := fmt.Sscanf(s, "%d", &n); err == nil {
			return n
		}
	}
	return d.Size
}

// BlobStore is what Write and Load need of the content store.
type BlobStore interface {
	WriteBlob(ctx context.Context, b []byte) (digest.Digest, error)
	ReadBlob(ctx context.Context, dgst digest.Digest) ([]byte, error)
}

var _ BlobStore = (*content.Store)(nil)

// Write stores cfg and a manifest over layers (which must match
// cfg.RootFS.DiffIDs one to one) and returns the image.
func Write(ctx context.Context, cs BlobStore, cfg dockerspec.DockerOCIImage, layers []ocispec.Descriptor) (*Image, error) {
	if len(layers) != len(cfg.RootFS.DiffIDs) {
		return nil, fmt.Errorf("write image: %d layers but %d diff IDs", len(layers), len(cfg.RootFS.DiffIDs))
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encode image config: %w", err)
	}
	cfgDigest, err := cs.WriteBlob(ctx, cfgJSON)
	if err != nil {
		return nil, fmt.Errorf("store image config: %w", err)
	}
	if layers == nil {
		layers = []ocispec.Descriptor{}
	}
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: cfgDigest, Size: int64(len(cfgJSON))},
		Layers:    layers,
	}
	mJSON, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	mDigest, err := cs.WriteBlob(ctx, mJSON)
	if err != nil {
		return nil, fmt.Errorf("store manifest: %w", err)
	}
	desc := ocispec.Descriptor{MediaType: m.MediaType, Digest: mDigest, Size: int64(len(mJSON))}
	return &Image{Descriptor: desc, Manifest: m, Config: cfg}, nil
}

// Load reads the image whose manifest is dgst.
func Load(ctx context.Context, cs BlobStore, dgst digest.Digest) (*Image, error) {
	mJSON, err := cs.ReadBlob(ctx, dgst)
	if err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", dgst, err)
	}
	img := &Image{Descriptor: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: dgst, Size: int64(len(mJSON))}}
	if err := json.Unmarshal(mJSON, &img.Manifest); err != nil {
		return nil, fmt.Errorf("decode manifest %s: %w", dgst, err)
	}
	if img.Manifest.MediaType != "" {
		img.Descriptor.MediaType = img.Manifest.MediaType
	}
	cfgJSON, err := cs.ReadBlob(ctx, img.Manifest.Config.Digest)
	if err != nil {
		return nil, fmt.Errorf("read image config %s: %w", img.Manifest.Config.Digest, err)
	}
	if err := json.Unmarshal(cfgJSON, &img.Config); err != nil {
		return nil, fmt.Errorf("decode image config %s: %w", img.Manifest.Config.Digest, err)
	}
	if len(img.Config.RootFS.DiffIDs) != len(img.Manifest.Layers) {
		return nil, fmt.Errorf("image %s: %d layers but %d diff IDs", dgst, len(img.Manifest.Layers), len(img.Config.RootFS.DiffIDs))
	}
	return img, nil
}
