package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xbuild/xbuild/internal/testutil"
)

// TestPushPullAndBuildFromRegistry pushes a built image to a registry on
// 127.0.0.1, pulls it into a fresh state dir byte for byte, builds FROM it
// (the base is pulled on demand) and pushes the child: only its new blobs
// are uploaded.
func TestPushPullAndBuildFromRegistry(t *testing.T) {
	t.Parallel()
	reg := testutil.StartRegistry(t)
	r := isolatedRoot(t)
	app := reg.Host + "/team/app:1"
	img, _ := build(t, r, prepareCase(t, "transfer-app"), app, "--push")
	if n := reg.BlobUploads.Load(); n != int64(len(img.Layers)+1) {
		t.Errorf("first push uploaded %d blobs, want %d (every layer and the config)", n, len(img.Layers)+1)
	}

	fresh := testutil.NewRoot(t)
	res := fresh.MustRun(t, "pull", app)
	if !strings.Contains(res.Stdout, img.Info.Digest) {
		t.Errorf("pull output does not name the digest %s:\n%s", img.Info.Digest, res.Stdout)
	}
	pulled := testutil.ReadImage(t, fresh, app)
	equal(t, "pulled manifest digest", pulled.Info.Digest, img.Info.Digest)
	equal(t, "pulled image ID", pulled.Info.ID, img.Info.ID)
	run := fresh.MustRun(t, "run", "--rm", app)
	equal(t, "run of the pulled image", run.Stdout, "hello from the app\n")

	before := reg.BlobUploads.Load()
	child := reg.Host + "/team/child:1"
	other := testutil.NewRoot(t)
	ctxDir := prepareCase(t, "transfer-child")
	id, bres := other.Build(t, ctxDir, "-t", child, "--build-arg", "BASE="+app, "--push")
	if bres.Code != 0 {
		t.Fatalf("build FROM a registry image:\n%s", bres)
	}
	if !strings.Contains(bres.Stderr, "pull "+"docker.io") && !strings.Contains(bres.Stderr, "pull "+reg.Host) {
		t.Errorf("the build did not show that it pulled the base:\n%s", bres.Stderr)
	}
	if n := reg.BlobUploads.Load() - before; n != 2 {
		t.Errorf("pushing the child uploaded %d blobs, want 2 (its new layer and config)", n)
	}
	c := testutil.ReadImage(t, other, child)
	equal(t, "child image ID", c.Info.ID, id)
	checkFile(t, c, "/app/child.txt", "child\n", 0o644, 0, 0)
	checkFile(t, c, "/app/app.txt", "hello from the app\n", 0o644, 0, 0)
}

func TestRegistryErrors(t *testing.T) {
	t.Parallel()
	reg := testutil.StartRegistry(t)
	r := testutil.NewRoot(t)
	res := r.Run(t, "pull", reg.Host+"/no/such:image")
	if res.Code != 1 || !strings.Contains(res.LastLine(), "not found") || !strings.Contains(res.LastLine(), reg.Host) {
		t.Errorf("pull of an unknown image: exit %d, %q", res.Code, res.LastLine())
	}
	res = r.Run(t, "pull", "127.0.0.1:1/app:1")
	if res.Code != 1 || !strings.Contains(res.LastLine(), "127.0.0.1:1/v2/") {
		t.Errorf("pull from a closed port: exit %d, %q (want the URL tried)", res.Code, res.LastLine())
	}
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+reg.Host+"/missing/base:1\nRUN true\n"), 0o644))
	_, res = r.Build(t, dir, "-t", "x")
	checkBuildFails(t, res, 1, "not found")
}

// TestOutputsAndArchives writes the image as an OCI archive, a Docker
// archive, a directory and a filesystem tar; skopeo and umoci (Debian's
// packages) read the archives, and the unpacked rootfs is what xbuild run
// sees. save/load move two images to a fresh state dir.
func TestOutputsAndArchives(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"skopeo", "umoci"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed: `make test` installs it (apt-get install -y skopeo umoci)", tool)
		}
	}
	r := isolatedRoot(t)
	out := t.TempDir()
	ociTar, dockerTar, local, fsTar := filepath.Join(out, "app.oci.tar"), filepath.Join(out, "app.docker.tar"), filepath.Join(out, "rootfs"), filepath.Join(out, "fs.tar")
	meta := filepath.Join(out, "meta.json")
	img, _ := build(t, r, prepareCase(t, "transfer-app"), "xbuild-test/transfer-app",
		"-o", "type=oci,dest="+ociTar, "-o", "type=docker,dest="+dockerTar,
		"-o", "type=local,dest="+local, "-o", "type=tar,dest="+fsTar, "--metadata-file", meta)

	var md map[string]any
	b, err := os.ReadFile(meta)
	must(t, err)
	must(t, json.Unmarshal(b, &md))
	equal(t, "metadata containerimage.digest", md["containerimage.digest"], any(img.Info.Digest))
	equal(t, "metadata containerimage.config.digest", md["containerimage.config.digest"], any(img.Info.ID))

	for _, ref := range []string{"oci-archive:" + ociTar, "docker-archive:" + dockerTar} {
		o, err := exec.Command("skopeo", "inspect", "--raw", ref).Output()
		if err != nil {
			t.Errorf("skopeo inspect %s: %v", ref, err)
			continue
		}
		if !strings.Contains(string(o), img.Manifest.Config.Digest) {
			t.Errorf("skopeo inspect --raw %s does not name config %s:\n%s", ref, img.Manifest.Config.Digest, o)
		}
	}

	layout := filepath.Join(out, "layout")
	must(t, os.MkdirAll(layout, 0o755))
	if o, err := exec.Command("tar", "-xf", ociTar, "-C", layout).CombinedOutput(); err != nil {
		t.Fatalf("untar OCI archive: %v\n%s", err, o)
	}
	bundle := filepath.Join(out, "bundle")
	if o, err := exec.Command("umoci", "unpack", "--image", layout+":latest", bundle).CombinedOutput(); err != nil {
		t.Fatalf("umoci unpack: %v\n%s", err, o)
	}
	rootfs := filepath.Join(bundle, "rootfs")
	for _, p := range []string{"app/app.txt", "app/built.txt", "etc/passwd"} {
		want := r.MustRun(t, "run", "--rm", "xbuild-test/transfer-app", "cat", "/"+p).Stdout
		for _, dir := range []string{rootfs, local} {
			got, err := os.ReadFile(filepath.Join(dir, p))
			if err != nil || string(got) != want {
				t.Errorf("%s in %s = %q, %v; xbuild run sees %q", p, dir, got, err, want)
			}
		}
	}
	for _, dir := range []string{rootfs, local} {
		if _, err := os.Lstat(filepath.Join(dir, "bin", "vi")); err == nil {
			t.Errorf("%s has /bin/vi, which the image deleted", dir)
		}
	}
	if o, err := exec.Command("tar", "-tf", fsTar).Output(); err != nil || !strings.Contains(string(o), "app/built.txt") {
		t.Errorf("type=tar output: %v\n%.500s", err, o)
	}

	// save two images, load them into a fresh state dir.
	saved := filepath.Join(out, "saved.tar")
	r.MustRun(t, "save", "-o", saved, "xbuild-test/transfer-app", testutil.BaseImage)
	fresh := testutil.NewRoot(t)
	res := fresh.MustRun(t, "load", "-i", saved)
	for _, n := range []string{"xbuild-test/transfer-app:latest", "xbuild-test/busybox:latest"} {
		if !strings.Contains(res.Stdout, "Loaded image: "+n) {
			t.Errorf("load output lacks %q:\n%s", n, res.Stdout)
		}
	}
	loaded := testutil.ReadImage(t, fresh, "xbuild-test/transfer-app")
	equal(t, "loaded image ID", loaded.Info.ID, img.Info.ID)
	equal(t, "run of the loaded image", fresh.MustRun(t, "run", "--rm", "xbuild-test/transfer-app").Stdout, "hello from the app\n")
}

// TestZstdRegistryOutput pushes zstd layers and runs the pulled image.
func TestZstdRegistryOutput(t *testing.T) {
	t.Parallel()
	reg := testutil.StartRegistry(t)
	r := isolatedRoot(t)
	name := reg.Host + "/app:zstd"
	_, res := r.Build(t, prepareCase(t, "transfer-app"), "-t", "xbuild-test/zstd-app", "-o", "type=registry,name="+name+",compression=zstd")
	if res.Code != 0 {
		t.Fatalf("zstd push:\n%s", res)
	}
	fresh := testutil.NewRoot(t)
	fresh.MustRun(t, "pull", name)
	info := fresh.Inspect(t, name)
	for _, l := range info.Manifest.Layers {
		if l.MediaType != "application/vnd.oci.image.layer.v1.tar+zstd" {
			t.Errorf("layer %s has media type %s, want zstd", l.Digest, l.MediaType)
		}
	}
	equal(t, "run of the zstd image", fresh.MustRun(t, "run", "--rm", name).Stdout, "hello from the app\n")
}
