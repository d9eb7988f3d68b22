package exporter

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/xbuild/xbuild/image"
	"github.com/xbuild/xbuild/layer"
)

// twoImages stores two small images that share their first layer.
func twoImages(t *testing.T, e *env) (*image.Image, *image.Image) {
	t.Helper()
	rnd := make([]byte, 256<<10) // incompressible: the blob is big enough to cut in half
	r := rand.NewChaCha8([32]byte{1})
	r.Read(rnd)
	base := plainUpper(t, map[string]string{"etc/os-release": "ID=test\n", "data.bin": string(rnd)})
	a := makeImage(t, e, layer.Gzip, "a", base, plainUpper(t, map[string]string{"app/a": "A"}))
	b := makeImage(t, e, layer.Gzip, "b", base, plainUpper(t, map[string]string{"app/b": "B"}))
	return a, b
}

func blobsOf(img *image.Image) []digest.Digest {
	out := []digest.Digest{img.Descriptor.Digest, img.Manifest.Config.Digest}
	for _, l := range img.Manifest.Layers {
		out = append(out, l.Digest)
	}
	return out
}

// checkLayoutFiles checks the files of an OCI layout (path → content):
// oci-layout, index.json with names as BuildKit writes them, and every
// blob of imgs under its digest.
func checkLayoutFiles(t *testing.T, files map[string][]byte, imgs []Named) ocispec.Index {
	t.Helper()
	if got := string(files["oci-layout"]); got != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout = %q", got)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(files["index.json"], &idx); err != nil {
		t.Fatalf("index.json: %v", err)
	}
	if idx.SchemaVersion != 2 || idx.MediaType != ocispec.MediaTypeImageIndex {
		t.Errorf("index.json header: %+v", idx)
	}
	var want []ocispec.Descriptor
	for _, n := range imgs {
		entries, err := indexEntries(n)
		must(t, err)
		want = append(want, entries...)
	}
	if !reflect.DeepEqual(idx.Manifests, want) {
		t.Errorf("index.json manifests:\n%+v\nwant\n%+v", idx.Manifests, want)
	}
	for _, n := range imgs {
		for _, d := range blobsOf(n.Image) {
			b, ok := files[blobPath(d)]
			if !ok {
				t.Errorf("blob %s missing", d)
			} else if digest.FromBytes(b) != d {
				t.Errorf("blob %s holds content hashing to %s", d, digest.FromBytes(b))
			}
		}
	}
	for name, b := range files {
		if strings.HasPrefix(name, "blobs/") && digest.FromBytes(b).Encoded() != filepath.Base(name) {
			t.Errorf("%s does not match its name", name)
		}
	}
	return idx
}

func readDirFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		files[filepath.ToSlash(rel)] = b
		return err
	})
	must(t, err)
	return files
}

func TestOCILayout(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	a, b := twoImages(t, e)
	imgs := []Named{
		{Image: a, Names: []string{"docker.io/library/app:1", "127.0.0.1:5000/team/app:latest"}},
		{Image: b},
	}
	dir := filepath.Join(t.TempDir(), "layout")
	must(t, WriteOCIDir(ctx, e.src, imgs, dir))
	idx := checkLayoutFiles(t, readDirFiles(t, dir), imgs)
	if got := idx.Manifests[0].Annotations; got["org.opencontainers.image.ref.name"] != "1" || got["io.containerd.image.name"] != "docker.io/library/app:1" {
		t.Errorf("annotations of the first entry: %v", got)
	}
	if idx.Manifests[2].Annotations != nil || idx.Manifests[2].Digest != b.Descriptor.Digest {
		t.Errorf("unnamed image entry: %+v", idx.Manifests[2])
	}

	var tar1, tar2 bytes.Buffer
	must(t, WriteOCITar(ctx, e.src, imgs, &tar1))
	must(t, WriteOCITar(ctx, e.src, imgs, &tar2))
	if !bytes.Equal(tar1.Bytes(), tar2.Bytes()) {
		t.Error("two exports of the same images differ")
	}
	names, files := tarEntries(t, tar1.Bytes())
	if names[0] != "oci-layout" || names[len(names)-1] != "index.json" {
		t.Errorf("tar entries: %v", names)
	}
	if !reflect.DeepEqual(files, readDirFiles(t, dir)) {
		t.Error("the tar and the directory hold different files")
	}
	e.checkTmpEmpty(t)

	// Load into a fresh store: the same manifests and names.
	for _, load := range []func(*env) ([]Named, error){
		func(f *env) ([]Named, error) { return Load(ctx, f.src, bytes.NewReader(tar1.Bytes())) },
		func(f *env) ([]Named, error) { return LoadDir(ctx, f.src, dir) },
	} {
		f := newEnv(t)
		got, err := load(f)
		must(t, err)
		if len(got) != 2 || got[0].Image.Descriptor.Digest != a.Descriptor.Digest || got[1].Image.Descriptor.Digest != b.Descriptor.Digest {
			t.Fatalf("loaded %+v", got)
		}
		if !reflect.DeepEqual(got[0].Names, imgs[0].Names) || len(got[1].Names) != 0 {
			t.Errorf("loaded names %v, %v", got[0].Names, got[1].Names)
		}
		if got[0].Image.ID() != a.ID() || !reflect.DeepEqual(got[0].Image.Manifest, a.Manifest) {
			t.Errorf("loaded image differs: %+v", got[0].Image.Manifest)
		}
		if f.blobCount(t) != 7 { // 2 manifests, 2 configs, 3 layers
			t.Errorf("store holds %d blobs, want 7", f.blobCount(t))
		}
		f.checkTmpEmpty(t)
	}
}

func TestOCIDirMerges(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	a, b := twoImages(t, e)
	dir := t.TempDir()
	must(t, WriteOCIDir(ctx, e.src, []Named{{Image: a, Names: []string{"docker.io/library/app:1", "docker.io/library/app:2"}}}, dir))
	// Blobs already there are kept; ref "1" moves to b, ref "2" stays on a.
	must(t, WriteOCIDir(ctx, e.src, []Named{{Image: b, Names: []string{"docker.io/library/app:1"}}}, dir))
	var idx ocispec.Index
	must(t, json.Unmarshal(readDirFiles(t, dir)["index.json"], &idx))
	refs := map[string]digest.Digest{}
	for _, d := range idx.Manifests {
		refs[d.Annotations[ocispec.AnnotationRefName]] = d.Digest
	}
	if len(idx.Manifests) != 2 || refs["1"] != b.Descriptor.Digest || refs["2"] != a.Descriptor.Digest {
		t.Errorf("merged index: %+v", idx.Manifests)
	}
	got, err := LoadDir(ctx, newEnv(t).src, dir)
	must(t, err)
	if len(got) != 2 {
		t.Errorf("loaded %d images from the merged layout", len(got))
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	for _, ent := range ents {
		if strings.HasPrefix(ent.Name(), ".tmp") {
			t.Errorf("temporary file left: %s", ent.Name())
		}
	}
}

func TestWriteRefusesCorruptBlob(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	a, _ := twoImages(t, e)
	l := a.Manifest.Layers[1].Digest
	p := e.src.Blobs.Path(l)
	must(t, os.Chmod(p, 0o644))
	data, err := os.ReadFile(p)
	must(t, err)
	data[len(data)/2] ^= 0xff
	must(t, os.WriteFile(p, data, 0o644))
	err = WriteOCITar(ctx, e.src, []Named{{Image: a}}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("export of a corrupt blob: %v", err)
	}
	dir := t.TempDir()
	if err := WriteOCIDir(ctx, e.src, []Named{{Image: a}}, dir); err == nil {
		t.Error("directory export of a corrupt blob succeeded")
	}
	for name := range readDirFiles(t, dir) {
		if name == blobPath(l) || name == "index.json" || strings.Contains(name, ".tmp") {
			t.Errorf("export of a corrupt blob left %s", name)
		}
	}
}
