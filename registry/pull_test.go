package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/xbuild/xbuild/image"
	"github.com/xbuild/xbuild/layer"
)

func TestPullIndexPicksPlatform(t *testing.T) {
	ctx := context.Background()
	host := startRegistry(t, nil)
	s := newStore(t)
	imgs := map[string]*image.Image{}
	var entries []ocispec.Descriptor
	for _, arch := range []string{"arm64", "amd64"} {
		img := writeImage(t, s, arch, writeLayer(t, s, layer.Gzip, map[string][]byte{"arch": []byte(arch)}))
		if _, err := newClient(nil).Push(ctx, host+"/multi@"+img.Descriptor.Digest.String(), s, img.Descriptor); err != nil {
			t.Fatal(err)
		}
		imgs[arch] = img
		d := img.Descriptor
		d.Platform = &ocispec.Platform{OS: "linux", Architecture: arch}
		if arch == "arm64" {
			d.Platform.Variant = "v8"
		}
		entries = append(entries, d)
	}
	// An attestation manifest, as BuildKit adds, must never be picked.
	entries = append(entries, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: imgs["amd64"].Descriptor.Digest,
		Size: imgs["amd64"].Descriptor.Size, Platform: &ocispec.Platform{OS: "unknown", Architecture: "unknown"}})
	for _, mt := range []string{ocispec.MediaTypeImageIndex, string(types.DockerManifestList)} {
		raw, err := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: mt, Manifests: entries})
		if err != nil {
			t.Fatal(err)
		}
		tag := map[string]string{ocispec.MediaTypeImageIndex: "oci", string(types.DockerManifestList): "docker"}[mt]
		putManifest(t, host, "multi", tag, mt, raw)
		for _, want := range []ocispec.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}, {OS: "linux", Architecture: "arm64", Variant: "v8"}} {
			t.Run(tag+"/"+platformString(want), func(t *testing.T) {
				dst := newStore(t)
				cl := New(Options{Keychain: CredentialsFunc(anonymous), Platform: want})
				desc, err := cl.Pull(ctx, host+"/multi:"+tag, dst)
				if err != nil {
					t.Fatal(err)
				}
				img := imgs[want.Architecture]
				if desc.Digest != img.Descriptor.Digest || desc.Platform == nil || desc.Platform.Architecture != want.Architecture {
					t.Fatalf("pulled %s (%v), want the %s image %s", desc.Digest, desc.Platform, want.Architecture, img.Descriptor.Digest)
				}
				sameBlobs(t, s, dst, img)
				other := imgs[map[string]string{"amd64": "arm64", "arm64": "amd64"}[want.Architecture]]
				notStored(t, dst, "", other.Manifest.Config.Digest, other.Manifest.Layers[0].Digest)
			})
		}
		_, err = New(Options{Keychain: CredentialsFunc(anonymous), Platform: ocispec.Platform{OS: "linux", Architecture: "s390x"}}).Resolve(ctx, host+"/multi:"+tag)
		t.Log(err)
		if err == nil || !strings.Contains(err.Error(), "no image for platform linux/s390x") || !strings.Contains(err.Error(), "linux/arm64/v8") {
			t.Errorf("platform missing from the index: %v", err)
		}
	}
}

func TestPullDockerSchema2(t *testing.T) {
	ctx := context.Background()
	host := startRegistry(t, nil)
	var layers []v1.Layer
	for i := 0; i < 2; i++ {
		l, err := random.Layer(4<<10, types.DockerLayer)
		if err != nil {
			t.Fatal(err)
		}
		layers = append(layers, l)
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf.OS, cf.Architecture = "linux", "amd64"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	img = mutate.ConfigMediaType(mutate.MediaType(img, types.DockerManifestSchema2), types.DockerConfigJSON)
	ref := host + "/docker/img:1"
	nref, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(nref, img, remote.WithContext(ctx)); err != nil {
		t.Fatal(err)
	}
	wantRaw, _ := img.RawManifest()

	s := newStore(t)
	desc, err := newClient(nil).Pull(ctx, ref, s)
	if err != nil {
		t.Fatal(err)
	}
	if desc.MediaType != string(types.DockerManifestSchema2) || desc.Digest != digest.FromBytes(wantRaw) {
		t.Fatalf("pulled %+v, want the Docker schema2 manifest %s", desc, digest.FromBytes(wantRaw))
	}
	got, err := s.ReadBlob(ctx, desc.Digest)
	if err != nil || !bytes.Equal(got, wantRaw) {
		t.Fatalf("stored manifest differs from the registry's: %v", err)
	}
	loaded, err := image.Load(ctx, s, desc.Digest)
	if err != nil {
		t.Fatalf("image.Load of a Docker schema2 image: %v", err)
	}
	if loaded.Descriptor.MediaType != string(types.DockerManifestSchema2) || loaded.Manifest.Layers[1].MediaType != string(types.DockerLayer) ||
		loaded.Config.Architecture != "amd64" || len(loaded.Config.RootFS.DiffIDs) != 2 {
		t.Fatalf("loaded %+v", loaded.Manifest)
	}

	// Pushed on unchanged: same digest, same media type on the registry.
	d, err := newClient(nil).Push(ctx, host+"/docker/copy:1", s, desc)
	if err != nil || d != desc.Digest {
		t.Fatalf("push back: %s, %v", d, err)
	}
	cref, err := name.ParseReference(host + "/docker/copy:1")
	if err != nil {
		t.Fatal(err)
	}
	rd, err := remote.Get(cref)
	if err != nil {
		t.Fatal(err)
	}
	if rd.MediaType != types.DockerManifestSchema2 || !bytes.Equal(rd.Manifest, wantRaw) {
		t.Fatalf("registry holds %s, %d bytes", rd.MediaType, len(rd.Manifest))
	}
}

func TestConcurrentPullsFetchEachBlobOnce(t *testing.T) {
	ctx := context.Background()
	rec := &recorder{}
	host := startRegistry(t, rec.wrap)
	src := newStore(t)
	img := writeImage(t, src, "amd64",
		writeLayer(t, src, layer.Gzip, map[string][]byte{"a": randomBytes(1<<20, 8)}),
		writeLayer(t, src, layer.Gzip, map[string][]byte{"b": randomBytes(1<<20, 9)}))
	if _, err := newClient(nil).Push(ctx, host+"/app:1", src, img.Descriptor); err != nil {
		t.Fatal(err)
	}
	rec.reset()
	cl := newClient(nil)
	dst := newStore(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			d, err := cl.Pull(ctx, host+"/app:1", dst)
			if err == nil && d.Digest != img.Descriptor.Digest {
				err = fmt.Errorf("pulled %s", d.Digest)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := rec.count(http.MethodGet, "/blobs/sha256:"); n != 3 {
		t.Errorf("%d blob GETs for 3 blobs pulled 4 times at once", n)
	}
	sameBlobs(t, src, dst, img)
}
