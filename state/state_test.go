package state

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// A killed process's tmp/ entry is removed on the next Open, and a mount it
// left there (a secret's tmpfs) is detached first, so its contents go too.
func TestOpenSweepsDeadProcessesTmpAndMounts(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("needs root and CI is set")
		}
		t.Skip("needs root")
	}
	dir := t.TempDir()
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	dead := r.Path("tmp", "secret-pid999999999-x")
	live := r.Path("tmp", "mnt-pid1-x")
	for _, d := range []string{dead, live} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Mount("tmpfs", dead, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dead, "secret"), []byte("s"), 0o600)
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		unix.Unmount(dead, unix.MNT_DETACH)
		t.Fatalf("dead process's tmp entry kept: %v", err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Fatal("live process's tmp entry removed")
	}
	if got := unescapeMountinfo(`/a\040b`); got != "/a b" {
		t.Fatalf("unescape: %q", got)
	}
}
