package exporter

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"reflect"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/xbuild/xbuild/layer"
)

func TestDockerArchive(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	a, b := twoImages(t, e)
	imgs := []Named{
		{Image: a, Names: []string{"docker.io/library/app:1"}},
		{Image: b, Names: []string{"docker.io/other/x:2", "127.0.0.1:5000/app:latest"}},
	}
	var buf bytes.Buffer
	must(t, WriteDocker(ctx, e.src, imgs, &buf))
	_, files := tarEntries(t, buf.Bytes())
	checkLayoutFiles(t, files, imgs)

	var ms []dockerManifest
	must(t, json.Unmarshal(files["manifest.json"], &ms))
	want := []dockerManifest{
		{Config: blobPath(a.ID()), RepoTags: []string{"app:1"}, Layers: []string{blobPath(a.Manifest.Layers[0].Digest), blobPath(a.Manifest.Layers[1].Digest)}},
		{Config: blobPath(b.ID()), RepoTags: []string{"other/x:2", "127.0.0.1:5000/app:latest"}, Layers: []string{blobPath(b.Manifest.Layers[0].Digest), blobPath(b.Manifest.Layers[1].Digest)}},
	}
	if !reflect.DeepEqual(ms, want) {
		t.Errorf("manifest.json:\n%+v\nwant\n%+v", ms, want)
	}
	for _, m := range ms {
		for _, p := range append([]string{m.Config}, m.Layers...) {
			if _, ok := files[p]; !ok {
				t.Errorf("manifest.json names %s, which is not in the archive", p)
			}
		}
	}

	f := newEnv(t)
	got, err := Load(ctx, f.src, bytes.NewReader(buf.Bytes()))
	must(t, err)
	if len(got) != 2 {
		t.Fatalf("loaded %d images", len(got))
	}
	for i, n := range got {
		if n.Image.Descriptor.Digest != imgs[i].Image.Descriptor.Digest || !reflect.DeepEqual(n.Names, imgs[i].Names) {
			t.Errorf("loaded image %d: %s %v, want %s %v", i, n.Image.Descriptor.Digest, n.Names, imgs[i].Image.Descriptor.Digest, imgs[i].Names)
		}
	}
	f.checkTmpEmpty(t)

	// The same files in a directory (type=docker,tar=false).
	dir := t.TempDir()
	must(t, WriteDockerDir(ctx, e.src, imgs, dir))
	if !reflect.DeepEqual(readDirFiles(t, dir), files) {
		t.Error("WriteDockerDir and WriteDocker wrote different files")
	}
	got, err = LoadDir(ctx, newEnv(t).src, dir)
	must(t, err)
	if len(got) != 2 || got[1].Image.Descriptor.Digest != b.Descriptor.Digest || !reflect.DeepEqual(got[1].Names, imgs[1].Names) {
		t.Errorf("LoadDir of a docker dir: %+v", got)
	}
}

// TestLoadDockerManifestOnly loads what Docker before 25 wrote: no
// index.json, manifest.json naming layer files.
func TestLoadDockerManifestOnly(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	a, b := twoImages(t, e)
	var buf bytes.Buffer
	must(t, WriteDocker(ctx, e.src, []Named{{Image: a, Names: []string{"docker.io/library/app:1"}}, {Image: b}}, &buf))
	names, files := tarEntries(t, buf.Bytes())
	var entries []tarEntry
	for _, n := range names {
		if n != "index.json" && n != "oci-layout" && files[n] != nil {
			entries = append(entries, file(n, files[n]))
		}
	}
	f := newEnv(t)
	got, err := Load(ctx, f.src, bytes.NewReader(buildTar(t, entries...)))
	must(t, err)
	if len(got) != 2 || !reflect.DeepEqual(got[0].Names, []string{"docker.io/library/app:1"}) || len(got[1].Names) != 0 {
		t.Fatalf("loaded %+v", got)
	}
	for i, img := range []*Named{{Image: a}, {Image: b}} {
		g := got[i].Image
		if g.ID() != img.Image.ID() || g.Manifest.MediaType != ocispec.MediaTypeImageManifest {
			t.Errorf("image %d: id %s, manifest type %s", i, g.ID(), g.Manifest.MediaType)
		}
		for j, l := range g.Manifest.Layers {
			want := img.Image.Manifest.Layers[j]
			if l.Digest != want.Digest || l.Size != want.Size || l.MediaType != ocispec.MediaTypeImageLayerGzip ||
				l.Annotations["io.xbuild.layer.uncompressed-size"] != want.Annotations["io.xbuild.layer.uncompressed-size"] {
				t.Errorf("image %d layer %d: %+v, want %+v", i, j, l, want)
			}
		}
	}
}

// TestLoadLegacyDocker loads the layout of docker save before 1.10's
// successors: <id>/layer.tar (uncompressed), <hex>.json, per-layer json
// and VERSION files, repositories.
func TestLoadLegacyDocker(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	a, _ := twoImages(t, e)
	cfg, err := e.src.Blobs.ReadBlob(ctx, a.ID())
	must(t, err)
	entries := []tarEntry{
		file(a.ID().Encoded()+".json", cfg),
		file("repositories", []byte(`{"app":{"1":"l1"}}`)),
	}
	var layers []string
	for i, l := range a.Manifest.Layers {
		rc, err := e.src.Blobs.Open(ctx, l.Digest)
		must(t, err)
		dr, err := layer.Decompress(rc)
		must(t, err)
		raw, err := io.ReadAll(dr)
		must(t, err)
		rc.Close()
		id := string(rune('a'+i)) + "dir"
		entries = append(entries, file(id+"/VERSION", []byte("1.0")), file(id+"/json", []byte("{}")), file(id+"/layer.tar", raw))
		layers = append(layers, id+"/layer.tar")
	}
	m, _ := json.Marshal([]dockerManifest{{Config: a.ID().Encoded() + ".json", RepoTags: []string{"app:1"}, Layers: layers}})
	entries = append(entries, file("manifest.json", m))

	f := newEnv(t)
	got, err := Load(ctx, f.src, bytes.NewReader(buildTar(t, entries...)))
	must(t, err)
	if len(got) != 1 || got[0].Image.ID() != a.ID() || !reflect.DeepEqual(got[0].Names, []string{"docker.io/library/app:1"}) {
		t.Fatalf("loaded %+v", got)
	}
	for i, l := range got[0].Image.Manifest.Layers {
		if l.MediaType != ocispec.MediaTypeImageLayer || l.Digest != a.Config.RootFS.DiffIDs[i] {
			t.Errorf("layer %d: %+v", i, l)
		}
	}
	// Only the config, the two layers and the new manifest are stored.
	if n := f.blobCount(t); n != 4 {
		t.Errorf("store holds %d blobs, want 4", n)
	}
	f.checkTmpEmpty(t)

	// A config whose content does not match its <hex>.json name is refused.
	entries[0] = file(digest.FromString("other").Encoded()+".json", cfg)
	m, _ = json.Marshal([]dockerManifest{{Config: entries[0].hdr.Name, Layers: layers}})
	entries[len(entries)-1] = file("manifest.json", m)
	if _, err := Load(ctx, newEnv(t).src, bytes.NewReader(buildTar(t, entries...))); err == nil {
		t.Error("config with a wrong digest name loaded")
	}
}

// TestDockerTypedManifest loads an archive whose manifest has Docker media
// types: it is stored as it is, and recompression turns it into OCI.
func TestDockerTypedManifest(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	a, _ := twoImages(t, e)
	m := a.Manifest
	m.MediaType = mediaTypeDockerManifest
	m.Config.MediaType = mediaTypeDockerConfig
	m.Layers = append([]ocispec.Descriptor(nil), m.Layers...)
	for i := range m.Layers {
		m.Layers[i].MediaType = mediaTypeDockerLayerGzip
		m.Layers[i].Annotations = nil
	}
	mb, _ := json.Marshal(m)
	md := digest.FromBytes(mb)
	entries := []tarEntry{file("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)), file(blobPath(md), mb)}
	for _, d := range append([]ocispec.Descriptor{m.Config}, m.Layers...) {
		b, err := e.src.Blobs.ReadBlob(ctx, d.Digest)
		must(t, err)
		entries = append(entries, file(blobPath(d.Digest), b))
	}
	// A multi-platform index around it: Load picks this host's platform.
	other := ocispec.Descriptor{MediaType: mediaTypeDockerManifest, Digest: digest.FromString("absent"), Size: 5,
		Platform: &ocispec.Platform{OS: "linux", Architecture: "s390x-not-this"}}
	mine := ocispec.Descriptor{MediaType: mediaTypeDockerManifest, Digest: md, Size: int64(len(mb)),
		Platform: &ocispec.Platform{OS: "linux", Architecture: a.Config.Architecture}}
	list, _ := json.Marshal(ocispec.Index{Versioned: m.Versioned, MediaType: mediaTypeDockerList, Manifests: []ocispec.Descriptor{other, mine}})
	ld := digest.FromBytes(list)
	idx, _ := json.Marshal(ocispec.Index{Versioned: m.Versioned, Manifests: []ocispec.Descriptor{{
		MediaType: mediaTypeDockerList, Digest: ld, Size: int64(len(list)),
		Annotations: map[string]string{"org.opencontainers.image.ref.name": "docker.io/library/app:1"},
	}}})
	entries = append(entries, file(blobPath(ld), list), file("index.json", idx))

	f := newEnv(t)
	got, err := Load(ctx, f.src, bytes.NewReader(buildTar(t, entries...)))
	must(t, err)
	if len(got) != 1 || got[0].Image.Descriptor.Digest != md || got[0].Image.Descriptor.MediaType != mediaTypeDockerManifest {
		t.Fatalf("loaded %+v", got)
	}
	if !reflect.DeepEqual(got[0].Names, []string{"docker.io/library/app:1"}) {
		t.Errorf("names %v", got[0].Names)
	}
	z, err := Recompress(ctx, f.src, got[0].Image, layer.Zstd, false)
	must(t, err)
	if z.Manifest.MediaType != ocispec.MediaTypeImageManifest || z.Manifest.Config.MediaType != ocispec.MediaTypeImageConfig || z.ID() != a.ID() {
		t.Errorf("recompressed docker manifest: %+v", z.Manifest)
	}
	checkLayers(t, f, z, a, ocispec.MediaTypeImageLayerZstd)
}
