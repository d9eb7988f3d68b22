package ops

import (
	"context"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/xbuild/xbuild/cache"
	"github.com/xbuild/xbuild/image"
	"github.com/xbuild/xbuild/layer"
	"github.com/xbuild/xbuild/llb"
	"github.com/xbuild/xbuild/solver"
)

// imageOp makes sure a local image's layers are unpacked as snapshots.
type imageOp struct {
	env *Env
	op  llb.ImageOp
}

func (o *imageOp) CacheKey(ctx context.Context, in []digest.Digest) (digest.Digest, error) {
	return key(llb.ImageOp{Manifest: o.op.Manifest}, in), nil
}

func (o *imageOp) Exec(ctx context.Context, in []solver.Result, log io.Writer) (solver.Result, error) {
	img, err := image.Load(ctx, o.env.Content, o.op.Manifest)
	if err != nil {
		return nil, err
	}
	rec := &cache.Record{}
	var chain digest.Digest
	for i, desc := range img.Manifest.Layers {
		diffID := img.Config.RootFS.DiffIDs[i]
		chain = ChainID(chain, diffID)
		rec.Layers = append(rec.Layers, cache.Layer{DiffID: diffID, Size: image.LayerSize(desc), Blob: desc})
		if !o.env.Snapshots.Exists(chain.Encoded()) {
			if err := o.unpack(ctx, rec.Snapshot, chain, desc, diffID); err != nil {
				return nil, err
			}
		}
		rec.Snapshot = chain.Encoded()
	}
	return rec, nil
}

func (o *imageOp) unpack(ctx context.Context, parent string, chain digest.Digest, desc ocispec.Descriptor, diffID digest.Digest) error {
	s := o.env.Snapshots
	key := s.NewKey()
	if _, err := s.Prepare(ctx, key, parent); err != nil {
		return err
	}
	if _, err := layer.Unpack(ctx, o.env.Content, desc, diffID, s.FS(key)); err != nil {
		s.Remove(context.WithoutCancel(ctx), key)
		return fmt.Errorf("unpack layer %s: %w", desc.Digest, err)
	}
	return s.Commit(ctx, chain.Encoded(), key)
}

// contextOp keys on the content of the files it selects.
type contextOp struct {
	env *Env
	op  llb.ContextOp
}

func (o *contextOp) Volatile() {}

func (o *contextOp) CacheKey(ctx context.Context, in []digest.Digest) (digest.Digest, error) {
	if o.env.Context == nil {
		return "", fmt.Errorf("no build context")
	}
	sum, err := o.env.Context.Hash(ctx, o.op.Includes, o.env.Memo)
	if err != nil {
		return "", err
	}
	return key(o.op, in, sum), nil
}

func (o *contextOp) Exec(ctx context.Context, in []solver.Result, log io.Writer) (solver.Result, error) {
	return &cache.Record{}, nil
}

// UnpackImage makes sure every layer of the image with manifest dgst is
// unpacked as a snapshot and returns the top of the chain.
func UnpackImage(ctx context.Context, env *Env, dgst digest.Digest) (*cache.Record, error) {
	return (&imageOp{env: env, op: llb.ImageOp{Manifest: dgst}}).Exec(ctx, nil, io.Discard)
}
