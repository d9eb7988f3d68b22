package registry

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/xbuild/xbuild/image"
	"github.com/xbuild/xbuild/layer"
)

func TestPushPullRoundTrip(t *testing.T) {
	ctx := context.Background()
	for _, c := range []layer.Compression{layer.Gzip, layer.Zstd, layer.Uncompressed} {
		t.Run(string(c), func(t *testing.T) {
			host := startRegistry(t, nil)
			src := newStore(t)
			img := writeImage(t, src, "amd64",
				writeLayer(t, src, c, map[string][]byte{"etc/base": []byte("base"), "bin/tool": randomBytes(100<<10, 1)}),
				writeLayer(t, src, c, map[string][]byte{"app/main": randomBytes(50<<10, 2)}))
			events := &eventLog{}
			cl := newClient(events)
			ref := host + "/team/app:1"
			got, err := cl.Push(ctx, ref, src, img.Descriptor)
			if err != nil {
				t.Fatal(err)
			}
			if got != img.Descriptor.Digest {
				t.Fatalf("pushed digest %s, want %s", got, img.Descriptor.Digest)
			}
			if n := events.count("pushed sha256:"); n != 3 {
				t.Errorf("%d pushed events, want 3: %q", n, events.events)
			}

			for _, r := range []string{ref, host + "/team/app@" + img.Descriptor.Digest.String()} {
				dst := newStore(t)
				desc, err := newClient(nil).Pull(ctx, r, dst)
				if err != nil {
					t.Fatal(err)
				}
				if desc.Digest != img.Descriptor.Digest || desc.MediaType != img.Descriptor.MediaType || desc.Size != img.Descriptor.Size {
					t.Fatalf("pull %s: %+v, want %+v", r, desc, img.Descriptor)
				}
				sameBlobs(t, src, dst, img)
				back, err := image.Load(ctx, dst, desc.Digest)
				if err != nil {
					t.Fatal(err)
				}
				if back.Manifest.Layers[0].MediaType != img.Manifest.Layers[0].MediaType {
					t.Fatalf("layer media type %s, want %s", back.Manifest.Layers[0].MediaType, img.Manifest.Layers[0].MediaType)
				}
				if rd, err := newClient(nil).Resolve(ctx, r); err != nil || rd.Digest != desc.Digest {
					t.Fatalf("resolve %s: %v, %v", r, rd, err)
				}
			}
		})
	}
}

func TestPushUploadsOnlyMissingBlobs(t *testing.T) {
	ctx := context.Background()
	rec := &recorder{}
	host := startRegistry(t, rec.wrap)
	s := newStore(t)
	base1 := writeLayer(t, s, layer.Gzip, map[string][]byte{"a": randomBytes(64<<10, 3)})
	base2 := writeLayer(t, s, layer.Gzip, map[string][]byte{"b": randomBytes(64<<10, 4)})
	img1 := writeImage(t, s, "amd64", base1, base2)
	img2 := writeImage(t, s, "amd64", base1, base2, writeLayer(t, s, layer.Gzip, map[string][]byte{"c": []byte("new")}))
	cl := newClient(nil)
	if _, err := cl.Push(ctx, host+"/app:1", s, img1.Descriptor); err != nil {
		t.Fatal(err)
	}
	if n := rec.count(http.MethodPost, "/blobs/uploads/"); n != 3 {
		t.Fatalf("first push started %d uploads, want 3", n)
	}
	rec.reset()
	events := &eventLog{}
	cl = newClient(events)
	if _, err := cl.Push(ctx, host+"/app:2", s, img2.Descriptor); err != nil {
		t.Fatal(err)
	}
	if n := rec.count(http.MethodPost, "/blobs/uploads/"); n != 2 {
		t.Errorf("second push started %d uploads, want 2 (new config and layer): %q", n, rec.reqs)
	}
	if n := rec.count(http.MethodPatch, "/blobs/uploads/"); n != 2 {
		t.Errorf("second push sent %d blob bodies, want 2", n)
	}
	if n := events.count("exists sha256:"); n != 2 {
		t.Errorf("%d exists events, want 2: %q", n, events.events)
	}
	if n := rec.count(http.MethodPut, "/manifests/2"); n != 1 {
		t.Errorf("%d manifest PUTs, want 1", n)
	}
}

// perRepoBlobs makes blobs visible only in the repositories they were
// uploaded or mounted into, as real registries do, and implements
// cross-repository mounts; go-containerregistry's in-process registry keeps
// one global blob set and ignores mount requests.
type perRepoBlobs struct {
	mu    sync.Mutex
	inner http.Handler
	has   map[string]bool // repo + "@" + digest
}

func (p *perRepoBlobs) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	repo, rest, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v2/"), "/blobs/")
	if !ok {
		p.inner.ServeHTTP(w, r)
		return
	}
	q := r.URL.Query()
	switch {
	case (r.Method == http.MethodHead || r.Method == http.MethodGet) && !strings.HasPrefix(rest, "uploads"):
		if !p.visible(repo, rest) {
			w.WriteHeader(http.StatusNotFound)
			return
		}
	case r.Method == http.MethodPost && q.Get("mount") != "":
		if p.visible(q.Get("from"), q.Get("mount")) {
			p.add(repo, q.Get("mount"))
			w.Header().Set("Docker-Content-Digest", q.Get("mount"))
			w.Header().Set("Location", "/v2/"+repo+"/blobs/"+q.Get("mount"))
			w.WriteHeader(http.StatusCreated)
			return
		}
	case r.Method == http.MethodPut && q.Get("digest") != "":
		defer p.add(repo, q.Get("digest")) // the inner registry verifies it
	}
	p.inner.ServeHTTP(w, r)
}

func (p *perRepoBlobs) visible(repo, d string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.has[repo+"@"+d]
}

func (p *perRepoBlobs) add(repo, d string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.has[repo+"@"+d] = true
}

func TestPushMountsFromAnotherRepository(t *testing.T) {
	ctx := context.Background()
	rec := &recorder{}
	host := startRegistry(t, func(h http.Handler) http.Handler {
		return rec.wrap(&perRepoBlobs{inner: h, has: map[string]bool{}})
	})
	s := newStore(t)
	img := writeImage(t, s, "amd64", writeLayer(t, s, layer.Gzip, map[string][]byte{"a": randomBytes(32<<10, 5)}))
	if _, err := newClient(nil).Push(ctx, host+"/base:1", s, img.Descriptor); err != nil {
		t.Fatal(err)
	}

	// Explicit sources.
	rec.reset()
	events := &eventLog{}
	from := map[digest.Digest]string{img.Manifest.Config.Digest: host + "/base", img.Manifest.Layers[0].Digest: host + "/base:1"}
	if _, err := newClient(events).PushWithOptions(ctx, host+"/app:1", s, img.Descriptor, PushOptions{MountFrom: from}); err != nil {
		t.Fatal(err)
	}
	if n := rec.count(http.MethodPatch, "/blobs/uploads/"); n != 0 {
		t.Errorf("%d blob bodies uploaded, want 0 (mounted): %q", n, rec.reqs)
	}
	if n := events.count("mounted sha256:"); n != 2 {
		t.Errorf("%d mounted events, want 2: %q", n, events.events)
	}

	// Sources remembered from a pull by the same client.
	cl := newClient(nil)
	pulled := newStore(t)
	if _, err := cl.Pull(ctx, host+"/base:1", pulled); err != nil {
		t.Fatal(err)
	}
	rec.reset()
	if _, err := cl.Push(ctx, host+"/other/app:1", pulled, img.Descriptor); err != nil {
		t.Fatal(err)
	}
	if n := rec.count(http.MethodPost, "mount="); n != 2 {
		t.Errorf("%d mount requests, want 2: %q", n, rec.reqs)
	}
	if n := rec.count(http.MethodPatch, "/blobs/uploads/"); n != 0 {
		t.Errorf("%d blob bodies uploaded, want 0 (mounted)", n)
	}
	if _, err := newClient(nil).Pull(ctx, host+"/other/app:1", newStore(t)); err != nil {
		t.Fatalf("pull of the mounted image: %v", err)
	}
}

func TestPushRejectsMismatchedDigestReference(t *testing.T) {
	host := startRegistry(t, nil)
	s := newStore(t)
	img := writeImage(t, s, "amd64")
	_, err := newClient(nil).Push(context.Background(), host+"/app@"+digest.FromString("other").String(), s, img.Descriptor)
	if err == nil || !strings.Contains(err.Error(), "is not the manifest's digest") {
		t.Fatalf("push to a foreign digest: %v", err)
	}
}
