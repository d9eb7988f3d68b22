package exporter

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/xbuild/xbuild/image"
	"github.com/xbuild/xbuild/layer"
)

// fromDockerManifests builds and stores an OCI manifest for each entry of
// a manifest.json-only docker archive.
func (l *loader) fromDockerManifests(ctx context.Context, manifests []dockerManifest) ([]Named, error) {
	var res namedList
	for _, m := range manifests {
		img, err := l.dockerImage(ctx, m)
		if err != nil {
			return nil, fmt.Errorf("manifest.json image %s: %w", m.Config, err)
		}
		res.add(img, normalizeNames(m.RepoTags))
	}
	if len(res.out) == 0 {
		return nil, errors.New("manifest.json lists no images")
	}
	return res.out, nil
}

func (l *loader) dockerImage(ctx context.Context, m dockerManifest) (*image.Image, error) {
	cfgDigest, err := l.fileDigest(ctx, m.Config)
	if err != nil {
		return nil, err
	}
	// Legacy archives name the config <hex>.json after its digest.
	if hex, ok := strings.CutSuffix(path.Base(m.Config), ".json"); ok && len(hex) == 64 && hex != cfgDigest.Encoded() {
		return nil, fmt.Errorf("config content hashes to %s, not the digest its name says", cfgDigest)
	}
	cfgJSON, err := l.src.Blobs.ReadBlob(ctx, cfgDigest)
	if err != nil {
		return nil, err
	}
	var cfg dockerspec.DockerOCIImage
	if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
		return nil, fmt.Errorf("decode config: %w", err)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("%d layers but %d diff IDs", len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	mf := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: cfgDigest, Size: int64(len(cfgJSON))},
		Layers:    []ocispec.Descriptor{},
	}
	for i, p := range m.Layers {
		d, err := l.fileDigest(ctx, p)
		if err != nil {
			return nil, err
		}
		desc, err := l.describeLayer(ctx, d, cfg.RootFS.DiffIDs[i])
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", p, err)
		}
		mf.Layers = append(mf.Layers, desc)
	}
	b, err := json.Marshal(mf)
	if err != nil {
		return nil, err
	}
	dg, err := l.src.Blobs.WriteBlob(ctx, b)
	if err != nil {
		return nil, fmt.Errorf("store manifest: %w", err)
	}
	return image.Load(ctx, l.src.Blobs, dg)
}

// fileDigest returns the digest of the archive file p (as manifest.json
// names it), committing it to the store if it was held back.
func (l *loader) fileDigest(ctx context.Context, p string) (digest.Digest, error) {
	clean, err := cleanEntryName(p)
	if err != nil || clean == "" {
		return "", fmt.Errorf("manifest.json path %q: bad path %v", p, err)
	}
	if d, ok := l.blobs[clean]; ok {
		return d, nil
	}
	w, ok := l.pending[clean]
	if !ok {
		return "", fmt.Errorf("manifest.json refers to %q, which is not in the archive", p)
	}
	d := w.Digest()
	delete(l.pending, clean)
	defer w.Close()
	if err := w.Commit(ctx, w.Size(), d); err != nil {
		return "", fmt.Errorf("entry %q: %w", p, err)
	}
	l.blobs[clean] = d
	return d, nil
}

// describeLayer reads the stored layer d, detects its compression and
// checks that it decompresses to diffID.
func (l *loader) describeLayer(ctx context.Context, d, diffID digest.Digest) (ocispec.Descriptor, error) {
	rc, err := l.src.Blobs.Open(ctx, d)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer rc.Close()
	cr := &countReader{r: rc}
	br := bufio.NewReader(cr)
	magic, _ := br.Peek(4)
	mt := ocispec.MediaTypeImageLayer
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		mt = ocispec.MediaTypeImageLayerGzip
	case string(magic) == "\x28\xb5\x2f\xfd":
		mt = ocispec.MediaTypeImageLayerZstd
	}
	dr, err := layer.Decompress(br)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer dr.Close()
	h := diffID.Algorithm().Digester()
	n, err := io.Copy(h.Hash(), dr)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if h.Digest() != diffID {
		return ocispec.Descriptor{}, fmt.Errorf("uncompressed content hashes to %s, expected diff ID %s", h.Digest(), diffID)
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		return ocispec.Descriptor{}, err
	}
	return ocispec.Descriptor{
		MediaType:   mt,
		Digest:      d,
		Size:        cr.n,
		Annotations: map[string]string{image.AnnotationUncompressedSize: strconv.FormatInt(n, 10)},
	}, nil
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
