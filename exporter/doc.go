// Package exporter writes built images out of the state directory and
// reads image archives into it.
//
// It owns the -o/--output syntax (ParseOutput), OCI image layouts (a
// directory or a tar: WriteOCIDir, WriteOCITar), docker archives
// (WriteDocker, WriteDockerDir: what `docker save` writes since Docker 25,
// an OCI layout plus manifest.json), an image's final filesystem as a
// directory or a tar (WriteLocal, WriteFSTar: type=local and type=tar),
// layer recompression (Recompress, Output.ImageFor) and loading OCI and
// docker archives (Load, LoadDir).
//
// Blobs are streamed from and into the content store, never held in
// memory whole; everything read from the store or an archive is verified
// against its digest. Load commits a blob only once its digest is checked,
// so a bad or truncated archive leaves nothing half-written in the store.
// Layers are exported as stored (base image layers keep their compression
// and digests) unless Recompress is asked for another compression.
//
// The package does not tag images into the image store, push to
// registries or decide which outputs a build has: cmd/xbuild and build do,
// with registry for pushes. It imports content, image, layer and snapshot.
package exporter

import (
	"github.com/xbuild/xbuild/content"
	"github.com/xbuild/xbuild/snapshot"
)

// Source is what exporters read: the state directory's blob store and
// snapshots, and where to make temporary directories.
type Source struct {
	Blobs     *content.Store
	Snapshots *snapshot.Snapshotter               // for WriteLocal and WriteFSTar only
	TmpDir    func(prefix string) (string, error) // state.Root.TempDir; nil = the system's temp dir
}
