package exporter

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/xbuild/xbuild/image"
)

// dockerManifest is one entry of a docker archive's manifest.json.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// WriteDocker writes imgs as a docker archive to w: what `docker save`
// writes since Docker 25, an OCI image layout (oci-layout, blobs/sha256/…,
// index.json annotated as WriteOCITar does) plus manifest.json, one entry
// per image:
//
//	[{"Config":"blobs/sha256/<hex>","RepoTags":["app:latest"],"Layers":["blobs/sha256/<hex>",…]}]
//
// RepoTags are the familiar forms of the image's tagged names ("app:1",
// "127.0.0.1:5000/app:1"); names with only a digest are left out of them.
// `docker load` (both image stores), `podman load` and skopeo's
// docker-archive: transport read it. Layers are written as stored, gzip or
// zstd compressed or not; Docker and podman decompress them on load.
func WriteDocker(ctx context.Context, src Source, imgs []Named, w io.Writer) error {
	tw := tar.NewWriter(w)
	err := writeDocker(ctx, src, imgs, tarSink{tw: tw})
	if err == nil {
		err = tw.Close()
	}
	if err != nil {
		return fmt.Errorf("write docker archive: %w", err)
	}
	return nil
}

// WriteDockerDir writes the files WriteDocker writes into the directory
// dest (type=docker,tar=false), creating it if needed. Files are renamed
// into place; an existing index.json or manifest.json is replaced, not
// merged.
func WriteDockerDir(ctx context.Context, src Source, imgs []Named, dest string) error {
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return fmt.Errorf("write docker archive: %w", err)
	}
	if err := writeDocker(ctx, src, imgs, dirSink{root: dest}); err != nil {
		return fmt.Errorf("write docker archive %s: %w", dest, err)
	}
	return nil
}

func writeDocker(ctx context.Context, src Source, imgs []Named, s sink) error {
	idx, err := writeLayout(ctx, src, imgs, s)
	if err != nil {
		return err
	}
	if err := writeJSON(s, "index.json", idx); err != nil {
		return err
	}
	manifests, err := dockerManifests(imgs)
	if err != nil {
		return err
	}
	return writeJSON(s, "manifest.json", manifests)
}

// dockerManifests returns manifest.json: one entry per image, images that
// appear twice merged.
func dockerManifests(imgs []Named) ([]dockerManifest, error) {
	out := []dockerManifest{}
	byConfig := map[string]int{}
	for _, n := range imgs {
		tags, err := repoTags(n.Names)
		if err != nil {
			return nil, err
		}
		m := dockerManifest{Config: blobPath(n.Image.Manifest.Config.Digest), RepoTags: tags, Layers: []string{}}
		for _, l := range n.Image.Manifest.Layers {
			m.Layers = append(m.Layers, blobPath(l.Digest))
		}
		// Docker keys images by config: two manifests of one config (say,
		// gzip and zstd layers) would be one image to it; keep the first.
		if i, ok := byConfig[m.Config]; ok {
			out[i].RepoTags = appendNew(out[i].RepoTags, tags...)
			continue
		}
		byConfig[m.Config] = len(out)
		out = append(out, m)
	}
	return out, nil
}

// repoTags returns the familiar "repo:tag" forms of names.
func repoTags(names []string) ([]string, error) {
	var tags []string
	for _, name := range names {
		ref, err := image.ParseReference(name)
		if err != nil {
			return nil, err
		}
		if ref.Tag == "" {
			continue
		}
		ref.Digest = ""
		tags = appendNew(tags, ref.Familiar())
	}
	return tags, nil
}

// appendNew appends the elements of add that list does not hold yet.
func appendNew(list []string, add ...string) []string {
outer:
	for _, a := range add {
		for _, l := range list {
			if l == a {
				continue outer
			}
		}
		list = append(list, a)
	}
	return list
}
