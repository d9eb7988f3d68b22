package snapshot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func requireRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("needs root and CI is set")
		}
		t.Skip("needs root")
	}
}

func TestPrepareCommitStack(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// Base layer: no parent, a bind mount of the fs dir.
	k1 := s.NewKey()
	m1, err := s.Prepare(ctx, k1, "")
	if err != nil || len(m1) != 1 || m1[0].Type != "bind" {
		t.Fatalf("prepare base: %v %v", m1, err)
	}
	os.WriteFile(filepath.Join(s.FS(k1), "a"), []byte("base"), 0o644)
	os.WriteFile(filepath.Join(s.FS(k1), "gone"), []byte("x"), 0o644)
	if err := s.Commit(ctx, "layer1", k1); err != nil {
		t.Fatal(err)
	}
	if !s.Exists("layer1") || s.Exists(k1) {
		t.Fatal("commit did not move the snapshot into place")
	}
	// Second layer over it, changed through a real overlay mount.
	k2 := s.NewKey()
	m2, err := s.Prepare(ctx, k2, "layer1")
	if err != nil || m2[0].Type != "overlay" {
		t.Fatalf("prepare: %v %v", m2, err)
	}
	mnt := t.TempDir()
	err = WithMounted([]Target{{Mounts: m2, Dir: mnt}}, func() error {
		if b, err := os.ReadFile(filepath.Join(mnt, "a")); err != nil || string(b) != "base" {
			t.Errorf("lower file through overlay: %q %v", b, err)
		}
		os.Remove(filepath.Join(mnt, "gone"))
		return os.WriteFile(filepath.Join(mnt, "b"), []byte("top"), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	if mounts, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mounts), mnt) {
		t.Fatal("overlay mount visible in the host mount namespace")
	}
	fi, err := os.Lstat(filepath.Join(s.FS(k2), "gone"))
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Fatalf("deleted file is not an overlay whiteout in the upper dir: %v %v", fi, err)
	}
	if err := s.Commit(ctx, "layer2", k2); err != nil {
		t.Fatal(err)
	}
	v, err := s.View(ctx, "layer2")
	if err != nil || !strings.Contains(strings.Join(v[0].Options, ","), "layer2/fs:") {
		t.Fatalf("view: %v %v", v, err)
	}
	// Committing a name that exists discards the new snapshot.
	k3 := s.NewKey()
	s.Prepare(ctx, k3, "layer1")
	if err := s.Commit(ctx, "layer2", k3); err != nil || s.Exists(k3) {
		t.Fatalf("duplicate commit: %v", err)
	}
	if err := s.Remove(ctx, "layer2"); err != nil || s.Exists("layer2") {
		t.Fatalf("remove: %v", err)
	}
}

func TestSweepRemovesDeadProcessesSnapshots(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "active-pid999999999-abc", "fs")
	os.MkdirAll(stale, 0o755)
	live := filepath.Join(dir, "active-pid1-abc", "fs")
	os.MkdirAll(live, 0o755)
	if _, err := New(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatal("stale active snapshot kept")
	}
	if _, err := os.Stat(live); err != nil {
		t.Fatal("live process's snapshot removed")
	}
}

func TestDeepStackMounts(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	s, err := New(filepath.Join(t.TempDir(), strings.Repeat("long-state-dir-name", 3)))
	if err != nil {
		t.Fatal(err)
	}
	parent := ""
	for i := 0; i < 120; i++ {
		k := s.NewKey()
		if _, err := s.Prepare(ctx, k, parent); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(s.FS(k), fmt.Sprintf("f%03d", i)), nil, 0o644)
		name := fmt.Sprintf("%064d", i)
		if err := s.Commit(ctx, name, k); err != nil {
			t.Fatal(err)
		}
		parent = name
	}
	k := s.NewKey()
	m, err := s.Prepare(ctx, k, parent)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Join(m[0].Options, ",")); n < 4096 {
		t.Fatalf("options only %d bytes: the test does not exercise long lowerdirs", n)
	}
	mnt := t.TempDir()
	err = WithMounted([]Target{{Mounts: m, Dir: mnt}}, func() error {
		ents, err := os.ReadDir(mnt)
		if err != nil {
			return err
		}
		if len(ents) != 120 {
			t.Errorf("%d files through a 120-layer overlay", len(ents))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
