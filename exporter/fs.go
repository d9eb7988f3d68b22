package exporter

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/xbuild/xbuild/image"
	"github.com/xbuild/xbuild/layer"
	"github.com/xbuild/xbuild/snapshot"
)

// WriteLocal writes img's final filesystem into dest (type=local), a
// directory created if missing. Existing files are replaced by the image's
// (a file over a directory and the reverse too); other files in dest stay.
// Owners, modes, xattrs, symlinks, hardlinks, devices and mtimes are
// preserved; nothing is written outside dest, whatever the image's symlinks
// point at. Needs root: the image is read through a mount.
func WriteLocal(ctx context.Context, src Source, img *image.Image, dest string) error {
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return fmt.Errorf("export to %s: %w", dest, err)
	}
	err := streamRootfs(ctx, src, img, func(r io.Reader) error {
		_, err := layer.Apply(ctx, dest, r)
		return err
	})
	if err != nil {
		return fmt.Errorf("export to %s: %w", dest, err)
	}
	return nil
}

// WriteFSTar writes img's final filesystem to w as one tar stream
// (type=tar): the entries WriteLocal would create, in lexical order, in the
// reproducible format of layer.WriteDiff, without whiteouts. An image with
// no layers gives an empty tar. Needs root, as WriteLocal.
func WriteFSTar(ctx context.Context, src Source, img *image.Image, w io.Writer) error {
	err := streamRootfs(ctx, src, img, func(r io.Reader) error {
		_, err := io.Copy(w, r)
		return err
	})
	if err != nil {
		return fmt.Errorf("export filesystem tar: %w", err)
	}
	return nil
}

// streamRootfs unpacks img's layers as snapshots (reusing those the state
// dir has), mounts a read-only view of the top one and hands consume a tar
// of the merged view. The view is walked on the thread that owns the
// mount; consume runs on the caller's goroutine.
func streamRootfs(ctx context.Context, src Source, img *image.Image, consume func(io.Reader) error) error {
	top, err := layer.UnpackChain(ctx, src.Blobs, src.Snapshots, img.Manifest.Layers, img.Config.RootFS.DiffIDs)
	if err != nil {
		return err
	}
	rawR, rawW := io.Pipe()
	cleanR, cleanW := io.Pipe()
	var g errgroup.Group
	g.Go(func() error {
		err := mountedDiff(ctx, src, top, rawW)
		rawW.CloseWithError(err)
		return err
	})
	g.Go(func() error {
		err := dropWhiteouts(rawR, cleanW)
		rawR.CloseWithError(err)
		cleanW.CloseWithError(err)
		return err
	})
	cerr := consume(cleanR)
	if cerr == nil {
		// Read to the end so that the producers finish.
		_, cerr = io.Copy(io.Discard, cleanR)
	}
	if cerr != nil {
		cleanR.CloseWithError(cerr)
	} else {
		cleanR.Close()
	}
	gerr := g.Wait()
	if cerr != nil {
		return cerr
	}
	return gerr
}

// mountedDiff writes the filesystem of the committed snapshot top ("" for
// none) to w as a tar.
func mountedDiff(ctx context.Context, src Source, top string, w io.Writer) error {
	if top == "" {
		return tar.NewWriter(w).Close()
	}
	mounts, err := src.Snapshots.View(ctx, top)
	if err != nil {
		return err
	}
	mnt, err := tmpDir(src, "export-rootfs")
	if err != nil {
		return err
	}
	defer os.Remove(mnt)
	return snapshot.WithMounted([]snapshot.Target{{Mounts: mounts, Dir: mnt}}, func() error {
		return layer.WriteDiff(ctx, mnt, w)
	})
}

// dropWhiteouts copies the tar r to w without whiteout entries. A merged
// overlay view shows none, but a one-layer image is viewed through a bind
// mount of its snapshot, where whiteouts of the base layer (meaningless,
// but allowed) are still visible.
func dropWhiteouts(r io.Reader, w io.Writer) error {
	tr := tar.NewReader(r)
	tw := tar.NewWriter(w)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if strings.HasPrefix(path.Base(hdr.Name), ".wh.") {
			continue
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("entry %s: %w", hdr.Name, err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return fmt.Errorf("entry %s: %w", hdr.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	_, err := io.Copy(io.Discard, r) // let the writer finish
	return err
}

// tmpDir makes a temporary directory in the state dir (or the system's
// when the Source has none).
func tmpDir(src Source, prefix string) (string, error) {
	if src.TmpDir != nil {
		return src.TmpDir(prefix)
	}
	return os.MkdirTemp("", prefix+"-")
}
