package ops

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/xbuild/xbuild/buildcontext"
	"github.com/xbuild/xbuild/cache"
	"github.com/xbuild/xbuild/content"
	"github.com/xbuild/xbuild/executor"
	"github.com/xbuild/xbuild/image"
	"github.com/xbuild/xbuild/layer"
	"github.com/xbuild/xbuild/llb"
	"github.com/xbuild/xbuild/snapshot"
	"github.com/xbuild/xbuild/solver"
	"github.com/xbuild/xbuild/state"
)

// keyVersion is part of every cache key; bump it when an op's meaning
// changes so old records stop matching.
const keyVersion = "xbuild.ops.v1"

// Env is what ops need to run.
type Env struct {
	Root        *state.Root
	Content     *content.Store
	Snapshots   *snapshot.Snapshotter
	Executor    executor.Executor
	Context     *buildcontext.Dir // the build context, with .dockerignore
	Memo        *buildcontext.Memo
	Compression layer.Compression

	// ctxSums remembers the content hash each context selection had when
	// its key was computed, so a COPY can check that what it copied is what
	// the key promised.
	ctxSums sync.Map // string(selection) → digest.Digest

	tmpMu sync.Mutex
	tmp   []string // temp dirs that outlive one op, removed by Cleanup
}

// tempDir makes a temp dir that Cleanup removes at the end of the build.
func (e *Env) tempDir(prefix string) (string, error) {
	d, err := e.Root.TempDir(prefix)
	if err != nil {
		return "", err
	}
	e.tmpMu.Lock()
	e.tmp = append(e.tmp, d)
	e.tmpMu.Unlock()
	return d, nil
}

// Cleanup removes the temp dirs the build's ops kept (downloads made for
// cache keys that the cache then answered).
func (e *Env) Cleanup() {
	e.tmpMu.Lock()
	defer e.tmpMu.Unlock()
	for _, d := range e.tmp {
		os.RemoveAll(d)
	}
	e.tmp = nil
}

// Resolve maps a vertex to its op; it is the solver's Resolver.
func (e *Env) Resolve(v *llb.Vertex) (solver.Op, error) {
	switch op := v.Op().(type) {
	case llb.ScratchOp:
		return scratchOp{}, nil
	case llb.ImageOp:
		return &imageOp{env: e, op: op}, nil
	case llb.ContextOp:
		return &contextOp{env: e, op: op}, nil
	case llb.ExecOp:
		return &execOp{env: e, op: op}, nil
	case llb.CopyOp:
		return &copyOp{env: e, op: op}, nil
	case llb.MkdirOp:
		return &mkdirOp{env: e, op: op}, nil
	}
	return nil, fmt.Errorf("unknown op %s", v.Op().Kind())
}

// Valid reports whether a cached record is still usable: its snapshot and
// every layer blob exist.
func (e *Env) Valid(r *cache.Record) bool {
	if r.Snapshot != "" && !e.Snapshots.Exists(r.Snapshot) {
		return false
	}
	for _, l := range r.Layers {
		if _, err := e.Content.Info(context.Background(), l.Blob.Digest); err != nil {
			return false
		}
	}
	return true
}

func key(op llb.Op, inputs []digest.Digest, content ...digest.Digest) digest.Digest {
	return solver.Key(keyVersion, llb.Encode(op), inputs, content)
}

// commit turns the active snapshot key, laid over parent, into a layer and
// a committed snapshot named by its chain ID.
func (e *Env) commit(ctx context.Context, key string, parent *cache.Record) (*cache.Record, error) {
	ctx = context.WithoutCancel(ctx)
	lowers, err := e.Snapshots.Lowers(parent.Snapshot)
	if err != nil {
		return nil, err
	}
	l, err := layer.Write(ctx, e.Content, e.Compression, func(w io.Writer) error {
		// Directories overlayfs only copied up (unchanged against the
		// lowers) stay out of the layer.
		return layer.WriteDiffOptions(ctx, e.Snapshots.FS(key), w, layer.DiffOptions{Lowers: lowers})
	})
	if err != nil {
		return nil, fmt.Errorf("write layer: %w", err)
	}
	var parentChain digest.Digest
	if parent.Snapshot != "" {
		parentChain = digest.NewDigestFromEncoded(digest.SHA256, parent.Snapshot)
	}
	chain := layer.ChainID(parentChain, l.DiffID)
	if err := e.Snapshots.Commit(ctx, chain.Encoded(), key); err != nil {
		return nil, err
	}
	desc := l.Descriptor
	desc.Annotations = map[string]string{image.AnnotationUncompressedSize: fmt.Sprint(l.Size)}
	layers := append(append([]cache.Layer(nil), parent.Layers...), cache.Layer{
		DiffID: l.DiffID, Size: l.Size, Blob: desc, Created: time.Now().UTC(),
	})
	return &cache.Record{Snapshot: chain.Encoded(), Layers: layers}, nil
}

type scratchOp struct{}

func (scratchOp) Volatile() {}
func (scratchOp) CacheKey(ctx context.Context, in []digest.Digest) (digest.Digest, error) {
	return key(llb.ScratchOp{}, in), nil
}
func (scratchOp) Exec(ctx context.Context, in []solver.Result, log io.Writer) (solver.Result, error) {
	return &cache.Record{}, nil
}

func selectionKey(srcs []string) string { return strings.Join(srcs, "\x00") }

// checkContext fails if the context files srcs select no longer hash to
// what they did when the cache key was computed: the copy may have mixed
// old and new content, and must not be cached under the old key.
func (e *Env) checkContext(ctx context.Context, srcs []string) error {
	want, ok := e.ctxSums.Load(selectionKey(srcs))
	if !ok {
		return nil
	}
	got, err := e.Context.Hash(ctx, srcs, e.Memo)
	if err != nil {
		return err
	}
	if got != want.(digest.Digest) {
		return fmt.Errorf("the build context changed while the build ran (%s); run the build again", strings.Join(srcs, ", "))
	}
	return nil
}
