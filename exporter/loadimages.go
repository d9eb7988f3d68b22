package exporter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/xbuild/xbuild/image"
)

// finish turns the collected entries into images.
func (l *loader) finish(ctx context.Context) ([]Named, error) {
	var manifests []dockerManifest
	if b, ok := l.meta["manifest.json"]; ok {
		if err := json.Unmarshal(b, &manifests); err != nil {
			return nil, fmt.Errorf("manifest.json: %w", err)
		}
	}
	if b, ok := l.meta["index.json"]; ok {
		return l.fromIndex(ctx, b, manifests)
	}
	if _, ok := l.meta["manifest.json"]; ok {
		return l.fromDockerManifests(ctx, manifests)
	}
	return nil, errors.New("no index.json or manifest.json: not an OCI image layout or docker archive")
}

// namedList collects images in order, one entry per manifest.
type namedList struct {
	out []Named
	at  map[digest.Digest]int
}

func (n *namedList) add(img *image.Image, names []string) {
	if i, ok := n.at[img.Descriptor.Digest]; ok {
		n.out[i].Names = appendNew(n.out[i].Names, names...)
		return
	}
	if n.at == nil {
		n.at = map[digest.Digest]int{}
	}
	n.at[img.Descriptor.Digest] = len(n.out)
	n.out = append(n.out, Named{Image: img, Names: appendNew(nil, names...)})
}

func (l *loader) fromIndex(ctx context.Context, b []byte, manifests []dockerManifest) ([]Named, error) {
	var idx ocispec.Index
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	tags := map[string][]string{} // manifest.json: config path → names
	for _, m := range manifests {
		clean, _ := cleanEntryName(m.Config)
		tags[clean] = appendNew(tags[clean], normalizeNames(m.RepoTags)...)
	}
	var res namedList
	for _, d := range idx.Manifests {
		md, err := l.resolve(ctx, d, 0)
		if err != nil {
			return nil, err
		}
		img, err := l.loadManifest(ctx, md)
		if err != nil {
			return nil, err
		}
		names := append(annotationNames(d.Annotations), tags[blobPath(img.Manifest.Config.Digest)]...)
		res.add(img, names)
	}
	if len(res.out) == 0 {
		return nil, errors.New("index.json lists no images")
	}
	return res.out, nil
}

// resolve follows nested indexes down to the manifest for linux/GOARCH.
func (l *loader) resolve(ctx context.Context, d ocispec.Descriptor, depth int) (ocispec.Descriptor, error) {
	switch {
	case d.MediaType == ocispec.MediaTypeImageManifest || d.MediaType == mediaTypeDockerManifest || d.MediaType == "":
		return d, nil
	case !isIndex(d.MediaType):
		return d, fmt.Errorf("index entry %s: unsupported media type %q", d.Digest, d.MediaType)
	case depth > 4:
		return d, fmt.Errorf("index %s: indexes nested too deeply", d.Digest)
	}
	b, err := l.src.Blobs.ReadBlob(ctx, d.Digest)
	if err != nil {
		return d, fmt.Errorf("index %s is not in the archive: %w", d.Digest, err)
	}
	var sub ocispec.Index
	if err := json.Unmarshal(b, &sub); err != nil {
		return d, fmt.Errorf("index %s: %w", d.Digest, err)
	}
	for _, m := range sub.Manifests {
		if p := m.Platform; p != nil && p.OS == "linux" && p.Architecture == runtime.GOARCH {
			return l.resolve(ctx, m, depth+1)
		}
	}
	if len(sub.Manifests) == 1 {
		return l.resolve(ctx, sub.Manifests[0], depth+1)
	}
	return d, fmt.Errorf("index %s has no image for linux/%s", d.Digest, runtime.GOARCH)
}

// loadManifest reads the image whose manifest is d and checks that the
// store holds all its blobs at the sizes the manifest says.
func (l *loader) loadManifest(ctx context.Context, d ocispec.Descriptor) (*image.Image, error) {
	size, err := l.src.Blobs.Info(ctx, d.Digest)
	if err != nil {
		return nil, fmt.Errorf("manifest %s is not in the archive: %w", d.Digest, err)
	}
	if d.Size > 0 && size != d.Size {
		return nil, fmt.Errorf("manifest %s is %d bytes, index says %d", d.Digest, size, d.Size)
	}
	img, err := image.Load(ctx, l.src.Blobs, d.Digest)
	if err != nil {
		return nil, err
	}
	for _, ld := range append([]ocispec.Descriptor{img.Manifest.Config}, img.Manifest.Layers...) {
		size, err := l.src.Blobs.Info(ctx, ld.Digest)
		if err != nil {
			return nil, fmt.Errorf("image %s: blob %s is not in the archive: %w", d.Digest, ld.Digest, err)
		}
		if size != ld.Size {
			return nil, fmt.Errorf("image %s: blob %s is %d bytes, manifest says %d", d.Digest, ld.Digest, size, ld.Size)
		}
	}
	return img, nil
}

// annotationNames returns the image name an index.json entry carries.
func annotationNames(a map[string]string) []string {
	if n := a[annotationImageName]; n != "" {
		return normalizeNames([]string{n})
	}
	// A bare tag ("1") names no repository; a full reference does.
	if n := a[ocispec.AnnotationRefName]; strings.ContainsAny(n, "/:@") {
		return normalizeNames([]string{n})
	}
	return nil
}

// normalizeNames returns the normalized forms of names, skipping the ones
// that are not valid references (such as Docker's "<none>:<none>").
func normalizeNames(names []string) []string {
	var out []string
	for _, n := range names {
		if ref, err := image.ParseReference(n); err == nil {
			out = appendNew(out, ref.String())
		}
	}
	return out
}

// isIndex reports whether mt is an image index or Docker manifest list.
func isIndex(mt string) bool {
	return mt == ocispec.MediaTypeImageIndex || mt == mediaTypeDockerList || strings.HasSuffix(mt, "manifest.list.v2+json")
}
