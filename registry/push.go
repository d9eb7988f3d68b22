package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/xbuild/xbuild/image"
)

// maxManifestSize is the largest manifest Push reads (registries commonly
// refuse more than 4 MiB).
const maxManifestSize = 4 << 20

// PushOptions refine PushWithOptions.
type PushOptions struct {
	// MountFrom names, per blob digest, a repository of the same registry
	// that holds the blob ("127.0.0.1:5000/base", "busybox"; a tag or digest
	// is ignored). The registry is asked to mount the blob from there instead
	// of receiving it. Blobs this Client pulled are mounted from the
	// repository they came from without being listed.
	MountFrom map[digest.Digest]string
}

// Push uploads the image whose manifest is desc (already in blobs) to ref:
// config and layers first, in parallel, skipping blobs the registry already
// has (HEAD) and mounting blobs this Client pulled from another repository
// of the same registry; then the manifest, byte for byte as stored with its
// own media type, by ref's tag (or digest). Nothing is recompressed. It
// returns the manifest digest.
func (c *Client) Push(ctx context.Context, ref string, blobs Blobs, desc ocispec.Descriptor) (digest.Digest, error) {
	return c.PushWithOptions(ctx, ref, blobs, desc, PushOptions{})
}

// PushWithOptions is Push with options.
func (c *Client) PushWithOptions(ctx context.Context, ref string, blobs Blobs, desc ocispec.Descriptor, po PushOptions) (digest.Digest, error) {
	d, err := c.push(ctx, ref, blobs, desc, po)
	if err != nil {
		return "", fmt.Errorf("push %s: %w", ref, classify(err))
	}
	return d, nil
}

func (c *Client) push(ctx context.Context, ref string, blobs Blobs, desc ocispec.Descriptor, po PushOptions) (digest.Digest, error) {
	if c.keyErr != nil {
		return "", c.keyErr
	}
	nref, err := c.parseRef(ref)
	if err != nil {
		return "", err
	}
	if d, ok := nref.(name.Digest); ok && d.DigestStr() != desc.Digest.String() {
		return "", fmt.Errorf("reference digest %s is not the manifest's digest %s", d.DigestStr(), desc.Digest)
	}
	raw, mt, m, err := readManifest(ctx, blobs, desc)
	if err != nil {
		return "", err
	}
	log := &pushLog{outcome: map[string]string{}}
	p, err := remote.NewPusher(c.remoteOptions(ctx, c.withObserver(log.observe))...)
	if err != nil {
		return "", err
	}
	var todo []ocispec.Descriptor
	seen := map[digest.Digest]bool{}
	for _, d := range append([]ocispec.Descriptor{m.Config}, m.Layers...) {
		if !seen[d.Digest] {
			seen[d.Digest] = true
			todo = append(todo, d)
		}
	}
	err = fanOut(ctx, c.opt.Parallel, todo, func(ctx context.Context, d ocispec.Descriptor) error {
		return c.pushBlob(ctx, p, nref.Context(), blobs, d, po, log)
	})
	if err != nil {
		return "", err
	}
	if err := p.Put(ctx, nref, rawManifest{raw: raw, mediaType: types.MediaType(mt)}); err != nil {
		return "", err
	}
	c.event("pushed manifest %s as %s", desc.Digest, nref.Name())
	return desc.Digest, nil
}

// readManifest reads and checks the image manifest desc from blobs.
func readManifest(ctx context.Context, blobs Blobs, desc ocispec.Descriptor) ([]byte, string, *ocispec.Manifest, error) {
	rc, err := blobs.Open(ctx, desc.Digest)
	if err != nil {
		return nil, "", nil, fmt.Errorf("read manifest: %w", err)
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, maxManifestSize+1)) // verifies the digest at EOF
	if err != nil {
		return nil, "", nil, fmt.Errorf("read manifest: %w", err)
	}
	if len(raw) > maxManifestSize {
		return nil, "", nil, fmt.Errorf("manifest %s is larger than %d bytes", desc.Digest, maxManifestSize)
	}
	mt, err := manifestMediaType(raw, desc.MediaType)
	if err != nil {
		return nil, "", nil, fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	if mt != mediaOCIManifest && mt != mediaDockerManifest {
		return nil, "", nil, fmt.Errorf("manifest %s: pushing a %s is not supported, only image manifests", desc.Digest, mt)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, "", nil, fmt.Errorf("decode manifest %s: %w", desc.Digest, err)
	}
	return raw, mt, &m, nil
}

// pushBlob uploads d to repo unless the registry has it, mounting it when a
// source repository on the same registry is known.
func (c *Client) pushBlob(ctx context.Context, p *remote.Pusher, repo name.Repository, blobs Blobs, d ocispec.Descriptor, po PushOptions, log *pushLog) error {
	if !types.MediaType(d.MediaType).IsDistributable() {
		c.event("skipped %s (non-distributable)", d.Digest)
		return nil
	}
	size, err := blobs.Info(ctx, d.Digest)
	if err != nil {
		return fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	if d.Size > 0 && size != d.Size {
		return fmt.Errorf("blob %s: stored blob is %d bytes, manifest says %d", d.Digest, size, d.Size)
	}
	d.Size = size
	var l v1.Layer = &storeLayer{ctx: ctx, blobs: blobs, desc: d}
	src, ok := c.mountSource(repo, d.Digest, po)
	if ok {
		l = &remote.MountableLayer{Layer: l, Reference: src.Digest(d.Digest.String())}
	}
	if err := p.Upload(ctx, repo, l); err != nil {
		return fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	switch log.get(d.Digest) {
	case "exists":
		c.event("exists %s", d.Digest)
	case "mounted":
		c.event("mounted %s from %s", d.Digest, src.Name())
	default:
		c.event("pushed %s %s", d.Digest, humanSize(d.Size))
	}
	return nil
}

// mountSource is the repository on repo's registry to mount dgst from:
// PushOptions.MountFrom, else where this Client pulled it from.
func (c *Client) mountSource(repo name.Repository, dgst digest.Digest, po PushOptions) (name.Repository, bool) {
	var src name.Repository
	if s, ok := po.MountFrom[dgst]; ok {
		r, err := image.ParseReference(s)
		if err != nil {
			return src, false
		}
		var opts []name.Option
		if c.isInsecure(r.Domain) {
			opts = append(opts, name.Insecure)
		}
		if src, err = name.NewRepository(r.Repository(), opts...); err != nil {
			return src, false
		}
	} else if v, ok := c.sources.Load(dgst); ok {
		src = v.(name.Repository)
	} else {
		return src, false
	}
	return src, src.RegistryStr() == repo.RegistryStr() && src.RepositoryStr() != repo.RepositoryStr()
}

// pushLog learns from the wire what happened to each blob: a HEAD that
// found it, or a mount the registry accepted.
type pushLog struct {
	mu      sync.Mutex
	outcome map[string]string // digest → "exists" | "mounted"
}

func (l *pushLog) observe(req *http.Request, resp *http.Response) {
	var d, what string
	switch {
	case req.Method == http.MethodHead && resp.StatusCode == http.StatusOK && strings.Contains(req.URL.Path, "/blobs/"):
		d, what = path.Base(req.URL.Path), "exists"
	case req.Method == http.MethodPost && resp.StatusCode == http.StatusCreated && req.URL.Query().Get("mount") != "":
		d, what = req.URL.Query().Get("mount"), "mounted"
	default:
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.outcome[d] = what
}

func (l *pushLog) get(d digest.Digest) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.outcome[d.String()]
}

// rawManifest is a manifest to PUT exactly as stored.
type rawManifest struct {
	raw       []byte
	mediaType types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.raw, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mediaType, nil }

// storeLayer is a blob of the local store as ggcr's pusher sees a layer;
// only what an upload needs is implemented.
type storeLayer struct {
	ctx   context.Context
	blobs Blobs
	desc  ocispec.Descriptor
}

var _ v1.Layer = (*storeLayer)(nil)

var errNotNeeded = errors.New("registry: not available for a stored blob")

func (l *storeLayer) Digest() (v1.Hash, error)             { return v1.NewHash(l.desc.Digest.String()) }
func (l *storeLayer) DiffID() (v1.Hash, error)             { return v1.Hash{}, errNotNeeded }
func (l *storeLayer) Uncompressed() (io.ReadCloser, error) { return nil, errNotNeeded }
func (l *storeLayer) Size() (int64, error)                 { return l.desc.Size, nil }
func (l *storeLayer) MediaType() (types.MediaType, error) {
	return types.MediaType(l.desc.MediaType), nil
}
func (l *storeLayer) Compressed() (io.ReadCloser, error) { return l.blobs.Open(l.ctx, l.desc.Digest) }
