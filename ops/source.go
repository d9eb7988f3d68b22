package ops

import (
	"context"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"

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
	top, err := layer.UnpackChain(ctx, o.env.Content, o.env.Snapshots, img.Manifest.Layers, img.Config.RootFS.DiffIDs)
	if err != nil {
		return nil, err
	}
	rec := &cache.Record{Snapshot: top}
	for i, desc := range img.Manifest.Layers {
		rec.Layers = append(rec.Layers, cache.Layer{DiffID: img.Config.RootFS.DiffIDs[i], Size: image.LayerSize(desc), Blob: desc})
	}
	return rec, nil
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
	sum, err := o.env.Context.HashExcluding(ctx, o.op.Includes, o.op.CopyExcludes, o.env.Memo)
	if err != nil {
		return "", err
	}
	o.env.ctxSums.Store(selectionKey(ctxSelection(o.op.Includes, o.op.CopyExcludes)), sum)
	return key(o.op, in, sum), nil
}

func (o *contextOp) Exec(ctx context.Context, in []solver.Result, log io.Writer) (solver.Result, error) {
	return &cache.Record{}, nil
}
