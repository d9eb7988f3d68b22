package exporter

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/xbuild/xbuild/layer"
)

// maxPending bounds the entries of an archive that are neither blobs nor
// layout metadata (legacy docker archives' <id>/layer.tar and <hex>.json),
// each held in an uncommitted blob writer until manifest.json is read.
const maxPending = 4096

// Load reads an OCI image layout or a docker archive as a tar stream
// (optionally gzip or zstd compressed, as `docker load` accepts) from r,
// stores its blobs and returns its images with their names.
//
// Every blob is streamed into the store through a content.Writer and
// committed only if it hashes to the digest its name (blobs/<alg>/<hex>)
// promises: a mismatch or a truncated entry fails naming the entry and
// stores nothing for it (blobs of earlier entries, complete and verified,
// stay). Entries may come in any order; index.json, manifest.json,
// oci-layout and repositories are held in memory (at most 4 MiB each) and
// read at the end.
//
// Refused, naming the entry: absolute paths, ".." components, symlinks,
// hardlinks and any other non-regular file, and paths under blobs/ that are
// not blobs/sha256/<64 hex>. Nothing is ever written outside the store.
//
// Images come from index.json when the archive has one (names from the
// "io.containerd.image.name" annotation, or from
// "org.opencontainers.image.ref.name" when it is a full reference, plus the
// RepoTags of manifest.json), the manifests stored as the archive has them.
// Nested indexes resolve to the manifest for linux/GOARCH. A docker
// archive with only manifest.json (Docker before 25, including per-layer
// <id>/layer.tar files) gets an OCI manifest built from its config and
// layers, media types detected from the layers' magic bytes, every layer
// checked against its diffID. Names are normalized
// (docker.io/library/app:latest).
func Load(ctx context.Context, src Source, r io.Reader) ([]Named, error) {
	dr, err := layer.Decompress(r)
	if err != nil {
		return nil, fmt.Errorf("load archive: %w", err)
	}
	defer dr.Close()
	l := newLoader(src)
	defer l.discard()
	tr := tar.NewReader(dr)
	last := ""
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("load archive: %w", context.Cause(ctx))
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if last != "" {
				return nil, fmt.Errorf("load archive: read entry after %q: %w", last, err)
			}
			return nil, fmt.Errorf("load archive: %w", err)
		}
		last = hdr.Name
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		if err := l.entry(ctx, hdr.Name, fileType(hdr), hdr.Size, tr); err != nil {
			return nil, fmt.Errorf("load archive: %w", err)
		}
	}
	imgs, err := l.finish(ctx)
	if err != nil {
		return nil, fmt.Errorf("load archive: %w", err)
	}
	return imgs, nil
}

// LoadDir is Load for an image layout (OCI or docker) unpacked in the
// directory dir. The same rules apply: symlinks and other non-regular
// files are refused.
func LoadDir(ctx context.Context, src Source, dir string) ([]Named, error) {
	l := newLoader(src)
	defer l.discard()
	root := filepath.Clean(dir)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		if p == root {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		return l.loadFile(ctx, p, filepath.ToSlash(rel), d)
	})
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", dir, err)
	}
	imgs, err := l.finish(ctx)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", dir, err)
	}
	return imgs, nil
}

func (l *loader) loadFile(ctx context.Context, p, name string, d fs.DirEntry) error {
	switch {
	case d.IsDir():
		return l.entry(ctx, name, kindDir, 0, nil)
	case !d.Type().IsRegular():
		return l.entry(ctx, name, kindOther, 0, nil)
	}
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return l.entry(ctx, name, kindOther, 0, nil)
	}
	return l.entry(ctx, name, kindFile, fi.Size(), f)
}

type fileKind int

const (
	kindFile fileKind = iota
	kindDir
	kindOther
)

func fileType(hdr *tar.Header) fileKind {
	switch hdr.Typeflag {
	case tar.TypeReg:
		return kindFile
	case tar.TypeDir:
		return kindDir
	}
	return kindOther
}
