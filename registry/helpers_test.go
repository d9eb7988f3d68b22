package registry

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/xbuild/xbuild/content"
	"github.com/xbuild/xbuild/image"
	"github.com/xbuild/xbuild/layer"
)

// startRegistry serves go-containerregistry's in-process registry on
// 127.0.0.1, behind wrap when given, and returns its "host:port".
func startRegistry(t testing.TB, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	var h http.Handler = ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// anonymous is a keychain that never reads the user's Docker config.
func anonymous(string) (string, string, error) { return "", "", nil }

// newClient returns an anonymous client for linux/amd64.
func newClient(events *eventLog) *Client {
	opt := Options{Keychain: CredentialsFunc(anonymous), Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"}, UserAgent: "xbuild/test"}
	if events != nil {
		opt.Progress = events.add
	}
	return New(opt)
}

func newStore(t testing.TB) *content.Store {
	t.Helper()
	s, err := content.NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// eventLog collects progress events.
type eventLog struct {
	mu     sync.Mutex
	events []string
}

func (l *eventLog) add(e string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *eventLog) count(prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.events {
		if strings.HasPrefix(e, prefix) {
			n++
		}
	}
	return n
}

// recorder counts the requests reaching the registry.
type recorder struct {
	mu   sync.Mutex
	reqs []string // "METHOD /path?query"
}

func (r *recorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.reqs = append(r.reqs, req.Method+" "+req.URL.RequestURI())
		r.mu.Unlock()
		h.ServeHTTP(w, req)
	})
}

// count returns how many requests had method and a URI containing sub.
func (r *recorder) count(method, sub string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, s := range r.reqs {
		m, uri, _ := strings.Cut(s, " ")
		if m == method && strings.Contains(uri, sub) {
			n++
		}
	}
	return n
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = nil
}

// writeLayer stores a layer of files (name → content) with xbuild's own
// layer writer.
func writeLayer(t testing.TB, s *content.Store, c layer.Compression, files map[string][]byte) layer.Layer {
	t.Helper()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	l, err := layer.Write(context.Background(), s, c, func(w io.Writer) error {
		tw := tar.NewWriter(w)
		for _, n := range names {
			hdr := &tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), ModTime: time.Unix(1700000000, 0), Typeflag: tar.TypeReg}
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			if _, err := tw.Write(files[n]); err != nil {
				return err
			}
		}
		return tw.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// writeImage stores an image of layers for linux/arch with xbuild's image
// writer.
func writeImage(t testing.TB, s *content.Store, arch string, layers ...layer.Layer) *image.Image {
	t.Helper()
	cfg := dockerspec.DockerOCIImage{}
	cfg.OS, cfg.Architecture = "linux", arch
	cfg.RootFS.Type = "layers"
	cfg.Config.Cmd = []string{"/bin/sh"}
	var descs []ocispec.Descriptor
	for _, l := range layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.DiffID)
		descs = append(descs, l.Descriptor)
	}
	img, err := image.Write(context.Background(), s, cfg, descs)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// randomBytes returns n incompressible bytes from seed.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// sameBlobs fails unless every blob of img in a is in b with the same bytes.
func sameBlobs(t testing.TB, a, b *content.Store, img *image.Image) {
	t.Helper()
	ctx := context.Background()
	ds := []digest.Digest{img.Descriptor.Digest, img.Manifest.Config.Digest}
	for _, l := range img.Manifest.Layers {
		ds = append(ds, l.Digest)
	}
	for _, d := range ds {
		want, err := a.ReadBlob(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		got, err := b.ReadBlob(ctx, d)
		if err != nil {
			t.Fatalf("blob %s not pulled: %v", d, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("blob %s differs after the round trip", d)
		}
	}
}

// notStored fails if any of ds is in s or (when root is given) s left
// temp files behind.
func notStored(t testing.TB, s *content.Store, root string, ds ...digest.Digest) {
	t.Helper()
	for _, d := range ds {
		if _, err := s.Info(context.Background(), d); !errors.Is(err, content.ErrNotFound) {
			t.Errorf("blob %s stored after a failed pull (%v)", d, err)
		}
	}
	if root == "" {
		return
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "tmp")); len(ents) != 0 {
		t.Errorf("%d temp files left in the store", len(ents))
	}
}

// putManifest PUTs raw as ref's manifest with Content-Type mt, straight
// through the protocol.
func putManifest(t testing.TB, host, repo, ref, mt string, raw []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, "http://"+host+"/v2/"+repo+"/manifests/"+ref, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mt)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("PUT manifest: %s: %s", resp.Status, b)
	}
}
