package integration

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// ADD --unpack=true unpacks a downloaded archive; --unpack=false copies a
// local archive as it is (BuildKit's ADD --unpack).
func TestAddUnpackFlag(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	dir := t.TempDir()
	writeTarGz(t, filepath.Join(dir, "local.tar.gz"), map[string]string{"l.txt": "local\n"})
	writeTarGz(t, filepath.Join(dir, "remote.tar.gz"), map[string]string{"r.txt": "remote\n"})
	remote, err := os.ReadFile(filepath.Join(dir, "remote.tar.gz"))
	must(t, err)
	must(t, os.Remove(filepath.Join(dir, "remote.tar.gz")))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(remote) }))
	defer srv.Close()
	df := "FROM xbuild-test/busybox\n" +
		"ADD --unpack=true " + srv.URL + "/remote.tar.gz /u/\n" +
		"ADD " + srv.URL + "/remote.tar.gz /plain/\n" +
		"ADD --unpack=false local.tar.gz /kept/\n" +
		"ADD local.tar.gz /auto/\n"
	must(t, os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644))
	img, _ := build(t, r, dir, "xbuild-test/add-unpack")
	checkFile(t, img, "/u/r.txt", "remote\n", 0o644, 0, 0)
	checkAbsent(t, img, "/u/remote.tar.gz", "/plain/r.txt", "/kept/l.txt", "/auto/local.tar.gz")
	if !img.Has("/plain/remote.tar.gz") || !img.Has("/kept/local.tar.gz") {
		t.Errorf("archives that must stay packed are missing: %v", img.Children("/plain"))
	}
	checkFile(t, img, "/auto/l.txt", "local\n", 0o644, 0, 0)
}
