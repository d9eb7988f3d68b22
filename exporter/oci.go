package exporter

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/xbuild/xbuild/image"
)

// annotationImageName is where containerd, BuildKit and Docker put an
// image's full name in index.json; org.opencontainers.image.ref.name holds
// its tag.
const annotationImageName = "io.containerd.image.name"

// maxMetaSize bounds the JSON files of a layout (index.json,
// manifest.json, …) read into memory.
const maxMetaSize = 4 << 20

// Named is an image with the names it is exported or was loaded under.
type Named struct {
	Image *image.Image
	Names []string // normalized names (image.ParseReference(...).String()); may be empty
}

// WriteOCIDir writes imgs as an OCI image layout into the directory dest,
// creating it if needed. An existing layout in dest is extended: its
// blobs stay, and index.json keeps the entries whose
// org.opencontainers.image.ref.name no exported name takes over. Each file
// is written to a temporary name and renamed into place, index.json last,
// so an interrupted export leaves the previous index intact.
//
// index.json has one entry per name (an image without names gets one entry
// without annotations), annotated as BuildKit does:
// "org.opencontainers.image.ref.name" = the tag ("1") and
// "io.containerd.image.name" = the full normalized name. Blobs are
// streamed from the store and verified against their digests on the way.
func WriteOCIDir(ctx context.Context, src Source, imgs []Named, dest string) error {
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return fmt.Errorf("write OCI layout: %w", err)
	}
	s := dirSink{root: dest}
	idx, err := writeLayout(ctx, src, imgs, s)
	if err != nil {
		return fmt.Errorf("write OCI layout %s: %w", dest, err)
	}
	old, err := readExisting(dest, "index.json", maxMetaSize)
	if err != nil {
		return fmt.Errorf("write OCI layout %s: %w", dest, err)
	}
	if old != nil {
		if idx, err = mergeIndex(old, idx); err != nil {
			return fmt.Errorf("write OCI layout %s: existing index.json: %w", dest, err)
		}
	}
	if err := writeJSON(s, "index.json", idx); err != nil {
		return fmt.Errorf("write OCI layout %s: %w", dest, err)
	}
	return nil
}

// WriteOCITar writes imgs as an OCI image layout in a tar stream to w, as
// WriteOCIDir lays it out: oci-layout, blobs/sha256/…, index.json. Entries
// are owned by 0:0 and dated 1970-01-01, so the same images give the same
// bytes. Blobs are streamed from the store, never held in memory.
func WriteOCITar(ctx context.Context, src Source, imgs []Named, w io.Writer) error {
	tw := tar.NewWriter(w)
	s := tarSink{tw: tw}
	idx, err := writeLayout(ctx, src, imgs, s)
	if err == nil {
		err = writeJSON(s, "index.json", idx)
	}
	if err == nil {
		err = tw.Close()
	}
	if err != nil {
		return fmt.Errorf("write OCI archive: %w", err)
	}
	return nil
}

// writeLayout writes oci-layout and every blob of imgs (each once) to s and
// returns the index to write.
func writeLayout(ctx context.Context, src Source, imgs []Named, s sink) (ocispec.Index, error) {
	idx := ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{},
	}
	layout := ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion}
	if err := writeJSON(s, ocispec.ImageLayoutFile, layout); err != nil {
		return idx, err
	}
	for _, d := range []string{"blobs", "blobs/sha256"} {
		if err := s.dir(d); err != nil {
			return idx, err
		}
	}
	seen := map[digest.Digest]bool{}
	for _, n := range imgs {
		if n.Image == nil {
			return idx, errors.New("no image to export")
		}
		img := n.Image
		descs := append([]ocispec.Descriptor{img.Descriptor, img.Manifest.Config}, img.Manifest.Layers...)
		for _, d := range descs {
			if seen[d.Digest] {
				continue
			}
			if err := copyBlob(ctx, src, s, d); err != nil {
				return idx, err
			}
			seen[d.Digest] = true
		}
		entries, err := indexEntries(n)
		if err != nil {
			return idx, err
		}
		idx.Manifests = append(idx.Manifests, entries...)
	}
	return idx, nil
}

// blobPath is where a layout keeps the blob d.
func blobPath(d digest.Digest) string {
	return "blobs/" + d.Algorithm().String() + "/" + d.Encoded()
}

// copyBlob streams the blob d from the store to s, checking its size
// against the descriptor and its digest at the end.
func copyBlob(ctx context.Context, src Source, s sink, d ocispec.Descriptor) error {
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	if d.Digest.Algorithm() != digest.SHA256 {
		return fmt.Errorf("blob %s: unsupported digest algorithm", d.Digest)
	}
	size, err := src.Blobs.Info(ctx, d.Digest)
	if err != nil {
		return err
	}
	if d.Size != size {
		return fmt.Errorf("blob %s is %d bytes, descriptor says %d", d.Digest, size, d.Size)
	}
	name := blobPath(d.Digest)
	if s.hasBlob(name, d.Digest, size) {
		return nil
	}
	rc, err := src.Blobs.Open(ctx, d.Digest)
	if err != nil {
		return err
	}
	defer rc.Close()
	return s.file(name, size, rc)
}

// indexEntries returns the index.json descriptors of one image: one per
// name, or one without annotations.
func indexEntries(n Named) ([]ocispec.Descriptor, error) {
	base := n.Image.Descriptor
	base.Annotations = nil
	base.Platform = nil
	if base.MediaType == "" {
		base.MediaType = ocispec.MediaTypeImageManifest
	}
	if len(n.Names) == 0 {
		return []ocispec.Descriptor{base}, nil
	}
	var out []ocispec.Descriptor
	for _, name := range n.Names {
		ref, err := image.ParseReference(name)
		if err != nil {
			return nil, err
		}
		d := base
		d.Annotations = map[string]string{annotationImageName: ref.String()}
		if ref.Tag != "" {
			d.Annotations[ocispec.AnnotationRefName] = ref.Tag
		}
		out = append(out, d)
	}
	return out, nil
}

// mergeIndex returns the index of an existing layout (old, index.json
// bytes) with the entries of idx added; old entries whose ref.name idx
// uses again are dropped.
func mergeIndex(old []byte, idx ocispec.Index) (ocispec.Index, error) {
	var prev ocispec.Index
	if err := json.Unmarshal(old, &prev); err != nil {
		return idx, err
	}
	taken := map[string]bool{}
	for _, d := range idx.Manifests {
		if r, ok := d.Annotations[ocispec.AnnotationRefName]; ok {
			taken[r] = true
		}
	}
	var kept []ocispec.Descriptor
	for _, d := range prev.Manifests {
		if r, ok := d.Annotations[ocispec.AnnotationRefName]; ok && taken[r] {
			continue
		}
		if d.Annotations == nil && containsDigest(idx.Manifests, d.Digest) {
			continue // the same unnamed image exported again
		}
		kept = append(kept, d)
	}
	idx.Manifests = append(kept, idx.Manifests...)
	return idx, nil
}

func containsDigest(ds []ocispec.Descriptor, dg digest.Digest) bool {
	for _, d := range ds {
		if d.Digest == dg && d.Annotations == nil {
			return true
		}
	}
	return false
}

// writeJSON writes v as the file name of s.
func writeJSON(s sink, name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", name, err)
	}
	return s.file(name, int64(len(b)), bytes.NewReader(b))
}
