package image

import (
	"context"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Inspection is what `xbuild inspect` prints for an image.
type Inspection struct {
	ID           digest.Digest                   `json:"Id"`
	RepoTags     []string                        `json:"RepoTags"`
	Digest       digest.Digest                   `json:"Digest"`
	Created      *time.Time                      `json:"Created,omitempty"`
	Author       string                          `json:"Author,omitempty"`
	Architecture string                          `json:"Architecture"`
	Os           string                          `json:"Os"`
	Size         int64                           `json:"Size"`
	Config       dockerspec.DockerOCIImageConfig `json:"Config"`
	RootFS       ocispec.RootFS                  `json:"RootFS"`
	History      []ocispec.History               `json:"History"`
	Manifest     ocispec.Manifest                `json:"Manifest"`
}

// Inspect describes img, known under names (normalized).
func Inspect(img *Image, names []string) Inspection {
	tags := []string{}
	for _, n := range names {
		if r, err := ParseReference(n); err == nil {
			tags = append(tags, r.Familiar())
		}
	}
	return Inspection{
		ID: img.ID(), RepoTags: tags, Digest: img.Descriptor.Digest, Created: img.Config.Created,
		Author: img.Config.Author, Architecture: img.Config.Architecture, Os: img.Config.OS, Size: img.Size(),
		Config: img.Config.Config, RootFS: img.Config.RootFS, History: img.Config.History, Manifest: img.Manifest,
	}
}

// NamesOf returns the names pointing at the manifest dgst.
func (s *Store) NamesOf(ctx context.Context, dgst digest.Digest) ([]string, error) {
	all, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range all {
		if n.Manifest == dgst {
			out = append(out, n.Name)
		}
	}
	return out, nil
}
