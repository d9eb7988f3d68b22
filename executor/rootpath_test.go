//go:build linux

package executor

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestResolveIn(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"etc", "usr/lib", "run"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	links := map[string]string{
		"etc/abs":   "/run/systemd/resolve/stub-resolv.conf",
		"etc/rel":   "../usr/lib",
		"etc/climb": "../../../../../etc/passwd",
		"lib":       "usr/lib",
		"loop":      "loop",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	for p, want := range map[string]string{
		"/":                       "/",
		"/etc/hosts":              "/etc/hosts",
		"etc//./hosts":            "/etc/hosts",
		"/etc/abs":                "/run/systemd/resolve/stub-resolv.conf",
		"/etc/rel/x":              "/usr/lib/x",
		"/etc/climb":              "/etc/passwd",
		"/../../etc/hosts":        "/etc/hosts",
		"/lib/../etc":             "/usr/etc",
		"/missing/a/../b":         "/missing/b",
		"/etc/rel/../../../../..": "/",
	} {
		got, err := resolveIn(root, p)
		if err != nil || got != want {
			t.Errorf("resolveIn(%q) = %q, %v; want %q", p, got, err, want)
		}
	}
	if _, err := resolveIn(root, "/loop/x"); !errors.Is(err, unix.ELOOP) {
		t.Errorf("symlink loop: got %v, want ELOOP", err)
	}
}

func TestStubsRemovedAndTimesRestored(t *testing.T) {
	root := t.TempDir()
	etc := filepath.Join(root, "etc")
	os.Mkdir(etc, 0o755)
	os.WriteFile(filepath.Join(etc, "passwd"), nil, 0o644)
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	os.Chtimes(etc, old, old)

	var s stubs
	if err := s.ensure(root, "/etc/hosts", false); err != nil {
		t.Fatal(err)
	}
	if err := s.ensure(root, "/run/secrets/x", true); err != nil {
		t.Fatal(err)
	}
	if err := s.ensure(root, "/etc/passwd", false); err != nil { // exists: no stub
		t.Fatal(err)
	}
	want := []string{"/etc/hosts", "/run", "/run/secrets", "/run/secrets/x"}
	if !slices.Equal(s.created, want) {
		t.Fatalf("created %q, want %q", s.created, want)
	}
	if fi, err := os.Stat(filepath.Join(root, "etc/hosts")); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("file stub: %v, %v", fi, err)
	}
	s.remove(root)
	names, _ := readNames(root)
	if !slices.Equal(names, []string{"etc"}) {
		t.Errorf("root holds %q after removal, want only etc", names)
	}
	if names, _ := readNames(etc); !slices.Equal(names, []string{"passwd"}) {
		t.Errorf("etc holds %q after removal", names)
	}
	if fi, _ := os.Stat(etc); !fi.ModTime().Equal(old) {
		t.Errorf("etc mtime %v, want it restored to %v", fi.ModTime(), old)
	}
}

// A directory stub the process filled is kept, and its parent's times are
// not rewound.
func TestStubsKeepFilledDirs(t *testing.T) {
	root := t.TempDir()
	var s stubs
	if err := s.ensure(root, "/data/cache", true); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "data", "kept"), []byte("x"), 0o644)
	s.remove(root)
	names, _ := readNames(filepath.Join(root, "data"))
	if !slices.Equal(names, []string{"kept"}) {
		t.Errorf("data holds %q, want the process's file only", names)
	}
}
