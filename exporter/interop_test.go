package exporter

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/xbuild/xbuild/image"
	"github.com/xbuild/xbuild/internal/testutil"
	"github.com/xbuild/xbuild/layer"
)

var installTools sync.Once

// requireTools makes sure skopeo and umoci (Debian's packages) are
// installed, installing them with apt-get if needed. Without apt-get the
// test is skipped, unless CI is set.
func requireTools(t *testing.T) {
	t.Helper()
	testutil.RequireRoot(t)
	missing := func() bool {
		for _, tool := range []string{"skopeo", "umoci"} {
			if _, err := exec.LookPath(tool); err != nil {
				return true
			}
		}
		return false
	}
	if !missing() {
		return
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("skopeo/umoci missing, no apt-get to install them, and CI is set")
		}
		t.Skip("skopeo/umoci missing and no apt-get")
	}
	installTools.Do(func() {
		cmd := exec.Command("apt-get", "install", "-y", "--no-install-recommends", "skopeo", "umoci")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("apt-get install: %v\n%s", err, out)
		}
	})
	if missing() {
		t.Fatal("skopeo/umoci could not be installed")
	}
}

func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("%s %v: %v\n%s", name, args, err, msg)
	}
	return out
}

// skopeoInspect is the part of `skopeo inspect` the tests check.
type skopeoInspect struct {
	Digest digest.Digest
	Layers []digest.Digest
}

func inspect(t *testing.T, ref string) (skopeoInspect, []byte, []byte) {
	t.Helper()
	var si skopeoInspect
	if err := json.Unmarshal(run(t, "skopeo", "inspect", ref), &si); err != nil {
		t.Fatalf("skopeo inspect %s: %v", ref, err)
	}
	return si, run(t, "skopeo", "inspect", "--raw", ref), run(t, "skopeo", "inspect", "--config", "--raw", ref)
}

// unpackTree unpacks tag of the OCI layout dir with umoci and describes
// the rootfs.
func unpackTree(t *testing.T, dir, tag string) map[string]node {
	t.Helper()
	bundle := filepath.Join(t.TempDir(), "bundle")
	run(t, "umoci", "unpack", "--image", dir+":"+tag, bundle)
	return readTree(t, filepath.Join(bundle, "rootfs"))
}

func TestInteropSkopeoUmoci(t *testing.T) {
	requireTools(t)
	ctx := context.Background()
	e := newEnv(t)
	l1, l2 := richUppers(t)
	img := makeImage(t, e, layer.Gzip, "rich", l1, l2)
	other := makeImage(t, e, layer.Gzip, "other", plainUpper(t, map[string]string{"other": "x"}))
	imgs := []Named{{Image: img, Names: []string{"docker.io/library/app:1"}}, {Image: other, Names: []string{"docker.io/library/other:2"}}}

	local := filepath.Join(t.TempDir(), "local")
	must(t, WriteLocal(ctx, e.src, img, local))
	want := readTree(t, local)
	checkRichTree(t, "local", want)
	dir := t.TempDir()

	t.Run("oci dir", func(t *testing.T) {
		layout := filepath.Join(dir, "oci")
		must(t, WriteOCIDir(ctx, e.src, imgs, layout))
		compareTrees(t, "umoci unpack of the OCI dir", want, unpackTree(t, layout, "1"))
		si, _, _ := inspect(t, "oci:"+layout+":1")
		checkInspect(t, si, img, img.Descriptor.Digest)
	})
	t.Run("oci archive", func(t *testing.T) {
		p := filepath.Join(dir, "oci.tar")
		writeFile(t, p, func(f *os.File) error { return WriteOCITar(ctx, e.src, imgs, f) })
		si, raw, cfg := inspect(t, "oci-archive:"+p+":1")
		checkInspect(t, si, img, img.Descriptor.Digest)
		if digest.FromBytes(raw) != img.Descriptor.Digest || digest.FromBytes(cfg) != img.ID() {
			t.Errorf("skopeo saw manifest %s and config %s", digest.FromBytes(raw), digest.FromBytes(cfg))
		}
	})
	t.Run("docker archive", func(t *testing.T) {
		p := filepath.Join(dir, "docker.tar")
		writeFile(t, p, func(f *os.File) error { return WriteDocker(ctx, e.src, imgs, f) })
		for i, ref := range []string{"docker-archive:" + p + ":app:1", "docker-archive:" + p + ":@0"} {
			si, _, cfg := inspect(t, ref)
			if digest.FromBytes(cfg) != img.ID() {
				t.Errorf("%s: config %s, want %s", ref, digest.FromBytes(cfg), img.ID())
			}
			// skopeo reports a docker archive's layers by their
			// uncompressed digests.
			if !reflect.DeepEqual(si.Layers, img.Config.RootFS.DiffIDs) {
				t.Errorf("%d: skopeo layers %v, want %v", i, si.Layers, img.Config.RootFS.DiffIDs)
			}
		}
		si, _, _ := inspect(t, "docker-archive:"+p+":other:2")
		if !reflect.DeepEqual(si.Layers, other.Config.RootFS.DiffIDs) {
			t.Errorf("second image: skopeo layers %v", si.Layers)
		}
		layout := filepath.Join(dir, "from-docker")
		run(t, "skopeo", "--insecure-policy", "copy", "docker-archive:"+p+":app:1", "oci:"+layout+":1")
		compareTrees(t, "umoci unpack of the docker archive", want, unpackTree(t, layout, "1"))
	})
}

func checkInspect(t *testing.T, si skopeoInspect, img *image.Image, manifest digest.Digest) {
	t.Helper()
	if si.Digest != manifest {
		t.Errorf("skopeo digest %s, want %s", si.Digest, manifest)
	}
	var layers []digest.Digest
	for _, l := range img.Manifest.Layers {
		layers = append(layers, l.Digest)
	}
	if !reflect.DeepEqual(si.Layers, layers) {
		t.Errorf("skopeo layers %v, want %v", si.Layers, layers)
	}
}

func writeFile(t *testing.T, p string, fn func(*os.File) error) {
	t.Helper()
	f, err := os.Create(p)
	must(t, err)
	if err := fn(f); err != nil {
		f.Close()
		t.Fatal(err)
	}
	must(t, f.Close())
}
