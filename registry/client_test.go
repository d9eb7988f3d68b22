package registry

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/xbuild/xbuild/layer"
)

func TestReferenceMapping(t *testing.T) {
	c := New(Options{Insecure: []string{"registry.lan:5000", "plain.example"}})
	for in, want := range map[string]string{
		"busybox":                         "https index.docker.io/library/busybox:latest",
		"mynginx/df_test1:v2":             "https index.docker.io/mynginx/df_test1:v2",
		"127.0.0.1:5000/team/app:1":       "http 127.0.0.1:5000/team/app:1",
		"127.0.0.9:5000/app":              "http 127.0.0.9:5000/app:latest",
		"localhost:5000/app":              "http localhost:5000/app:latest",
		"[::1]:5000/app":                  "http [::1]:5000/app:latest",
		"registry.lan:5000/app":           "http registry.lan:5000/app:latest",
		"registry.lan:5001/app":           "https registry.lan:5001/app:latest",
		"plain.example:8080/app":          "http plain.example:8080/app:latest",
		"quay.io/a/b:1@sha256:" + hex64:   "https quay.io/a/b@sha256:" + hex64,
		"10.0.0.1:5000/x@sha256:" + hex64: "http 10.0.0.1:5000/x@sha256:" + hex64,
	} {
		r, err := c.parseRef(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		// ggcr falls back to http for private (RFC 1918) addresses by itself.
		if got := r.Context().Scheme() + " " + r.Name(); got != want {
			t.Errorf("%s → %s, want %s", in, got, want)
		}
	}
	for _, h := range []string{"example.com", "example.com:443", "10.1.1.1:5000"} {
		if c.isInsecure(h) {
			t.Errorf("%s treated as insecure", h)
		}
	}
}

const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestPickPlatform(t *testing.T) {
	idx := ocispec.Index{Manifests: []ocispec.Descriptor{
		{Digest: "sha256:a", Platform: &ocispec.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}},
		{Digest: "sha256:b", Platform: &ocispec.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}},
		{Digest: "sha256:c", Platform: &ocispec.Platform{OS: "linux", Architecture: "arm64"}},
		{Digest: "sha256:d", Platform: &ocispec.Platform{OS: "windows", Architecture: "amd64"}},
		{Digest: "sha256:e", Platform: &ocispec.Platform{OS: "linux", Architecture: "amd64"}},
	}}
	raw, _ := json.Marshal(idx)
	for want, d := range map[string]string{
		"linux/amd64":      "sha256:e",
		"linux/arm/v7":     "sha256:b",
		"linux/arm/v6":     "sha256:a",
		"linux/arm64/v8":   "sha256:c",
		"linux/arm64":      "sha256:c",
		"windows/amd64":    "sha256:d",
		"linux/arm/v8":     "sha256:b", // v7 is the best that runs
		"linux/riscv64":    "",
		"linux/arm/v5":     "",
		"freebsd/amd64":    "",
		"linux/amd64/vbad": "sha256:e", // a variant the index lacks: the plain entry
	} {
		parts := strings.Split(want, "/")
		p := ocispec.Platform{OS: parts[0], Architecture: parts[1]}
		if len(parts) == 3 {
			p.Variant = parts[2]
		}
		got, err := New(Options{Platform: p}).pickPlatform(raw)
		if d == "" {
			if err == nil {
				t.Errorf("%s: picked %s, want none", want, got.Digest)
			}
			continue
		}
		if err != nil || string(got.Digest) != d {
			t.Errorf("%s: picked %s (%v), want %s", want, got.Digest, err, d)
		}
	}
}

func TestManifestMediaType(t *testing.T) {
	for _, c := range []struct{ raw, header, want string }{
		{`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{}}`, "text/plain", mediaDockerManifest},
		{`{"schemaVersion":2,"config":{},"layers":[]}`, "application/vnd.oci.image.manifest.v1+json; charset=utf-8", mediaOCIManifest},
		{`{"schemaVersion":2,"config":{},"layers":[]}`, "application/octet-stream", mediaOCIManifest},
		{`{"schemaVersion":2,"manifests":[]}`, "", mediaOCIIndex},
		{`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[]}`, "", mediaDockerList},
		{`{"schemaVersion":1,"fsLayers":[]}`, "application/json", ""},
		{`{"schemaVersion":2,"mediaType":"application/vnd.example+json"}`, "", ""},
		{`not json`, mediaOCIManifest, ""},
	} {
		got, err := manifestMediaType([]byte(c.raw), c.header)
		if (err != nil) != (c.want == "") || got != c.want {
			t.Errorf("%s (%s): %q, %v; want %q", c.raw, c.header, got, err, c.want)
		}
	}
}

func TestPullOverTLSWithoutVerification(t *testing.T) {
	// Loopback registries are insecure: TLS with a self-signed
	// certificate works as plain HTTP does.
	srv := httptest.NewTLSServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "https://")
	ctx := context.Background()
	s := newStore(t)
	img := writeImage(t, s, "amd64", writeLayer(t, s, layer.Gzip, map[string][]byte{"f": []byte("tls")}))
	if _, err := newClient(nil).Push(ctx, host+"/app:1", s, img.Descriptor); err != nil {
		t.Fatal(err)
	}
	dst := newStore(t)
	if _, err := newClient(nil).Pull(ctx, host+"/app:1", dst); err != nil {
		t.Fatal(err)
	}
	sameBlobs(t, s, dst, img)
}
