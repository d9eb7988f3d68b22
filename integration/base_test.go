package integration

import (
	"archive/tar"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/xbuild/xbuild/internal/testutil"
)

// TestBaseImage checks the image everything else starts from: built FROM
// scratch, its files, accounts, modes and owners, config, history and
// manifest exactly as BuildKit would make them.
func TestBaseImage(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img := testutil.ReadImage(t, r, testutil.BaseImage)
	equal(t, "base image ID", img.Info.ID, shared.baseID)

	bbData, err := os.ReadFile(testutil.Busybox(t))
	if err != nil {
		t.Fatal(err)
	}
	bb := img.File(t, "/bin/busybox")
	if bb.Type != tar.TypeReg || bb.Digest != testutil.Digest(bbData) || bb.Size != int64(len(bbData)) {
		t.Errorf("/bin/busybox is not the host's busybox: %s", bb)
	}
	checkMeta(t, img, bb, 0o755, 0, 0)
	for _, applet := range []string{"sh", "ls", "id", "cat", "sleep", "hostname"} {
		e := img.File(t, "/bin/"+applet)
		if e.Type != tar.TypeSymlink || e.Linkname != "/bin/busybox" {
			t.Errorf("/bin/%s = %s, want a symlink to /bin/busybox (busybox --install -s)", applet, e)
		}
	}
	checkFile(t, img, "/etc/passwd", testutil.Passwd, 0o644, 0, 0)
	checkFile(t, img, "/etc/group", testutil.Group, 0o644, 0, 0)
	checkDir(t, img, "/etc", 0o755, 0, 0)
	checkDir(t, img, "/tmp", 0o1777, 0, 0)
	checkDir(t, img, "/root", 0o755, 0, 0)
	checkDir(t, img, "/home/app", 0o755, 1000, 1000)

	equal(t, "Config.Env", img.Config.Config.Env, []string{defaultPath})
	equal(t, "Config.Cmd", img.Config.Config.Cmd, []string{"sh"})
	equal(t, "Config.Entrypoint", img.Config.Config.Entrypoint, []string(nil))
	equal(t, "Config.User", img.Config.Config.User, "")
	equal(t, "architecture", img.Config.Architecture, runtime.GOARCH)
	equal(t, "os", img.Config.OS, "linux")
	equal(t, "rootfs.type", img.Config.RootFS.Type, "layers")

	checkHistory(t, img, 0,
		layer("COPY busybox /bin/busybox # buildkit"),
		layer("RUN /bin/busybox --install -s /bin # buildkit"),
		layer("COPY passwd group /etc/ # buildkit"),
		layer("RUN /bin/sh -c mkdir -p /tmp /root /home/app && chmod 1777 /tmp && chown 1000:1000 /home/app # buildkit"),
		meta("ENV "+defaultPath),
		meta(`CMD ["sh"]`),
	)
	if len(img.Layers) != baseLayers {
		t.Fatalf("base image has %d layers, want %d", len(img.Layers), baseLayers)
	}
	// Each layer holds what its step changed, not the whole rootfs.
	equal(t, "files of the first layer (COPY busybox)", nonDirPaths(img.Layers[0]), []string{"/bin/busybox"})
	for _, p := range nonDirPaths(img.Layers[1]) {
		if !strings.HasPrefix(p, "/bin/") || p == "/bin/busybox" {
			t.Errorf("the layer of `busybox --install` holds %s, want only the new /bin symlinks", p)
		}
	}
	equal(t, "files of the third layer (COPY passwd group)", nonDirPaths(img.Layers[2]), []string{"/etc/group", "/etc/passwd"})

	m := img.Manifest
	equal(t, "manifest schemaVersion", m.SchemaVersion, 2)
	equal(t, "manifest mediaType", m.MediaType, testutil.MediaTypeManifest)
	equal(t, "manifest config mediaType", m.Config.MediaType, testutil.MediaTypeConfig)
	equal(t, "RepoTags", img.Info.RepoTags, []string{"xbuild-test/busybox:latest"})
}
