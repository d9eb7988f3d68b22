package content

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

func TestWriteCommitRead(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s, err := NewStore(root)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("layer bytes")
	want := digest.FromBytes(data)
	w, err := s.Writer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if _, err := s.Info(ctx, want); !errors.Is(err, ErrNotFound) {
		t.Fatalf("blob visible before commit: %v", err)
	}
	if err := w.Commit(ctx, int64(len(data)), want); err != nil {
		t.Fatal(err)
	}
	got, err := s.ReadBlob(ctx, want)
	if err != nil || string(got) != string(data) {
		t.Fatalf("read back %q, %v", got, err)
	}
	// Committing the same blob again is success.
	if d, err := s.WriteBlob(ctx, data); err != nil || d != want {
		t.Fatalf("second write: %s, %v", d, err)
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "tmp")); len(ents) != 0 {
		t.Fatalf("tmp not empty after commits: %d entries", len(ents))
	}
}

func TestCommitRejectsWrongDigestAndLeavesNothing(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s, _ := NewStore(root)
	w, _ := s.Writer(ctx)
	w.Write([]byte("actual"))
	wrong := digest.FromString("expected")
	if err := w.Commit(ctx, 0, wrong); err == nil || !strings.Contains(err.Error(), "expected") {
		t.Fatalf("commit with wrong digest: %v", err)
	}
	w.Close()
	if _, err := s.Info(ctx, wrong); !errors.Is(err, ErrNotFound) {
		t.Fatal("wrong-digest blob stored")
	}
	if _, err := s.Info(ctx, digest.FromString("actual")); !errors.Is(err, ErrNotFound) {
		t.Fatal("uncommitted blob stored")
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "tmp")); len(ents) != 0 {
		t.Fatalf("temp file left behind: %d entries", len(ents))
	}
}

func TestReadDetectsCorruption(t *testing.T) {
	ctx := context.Background()
	s, _ := NewStore(t.TempDir())
	d, err := s.WriteBlob(ctx, []byte("good content"))
	if err != nil {
		t.Fatal(err)
	}
	p := s.Path(d)
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, []byte("evil content"), 0o644); err != nil {
		t.Fatal(err)
	}
	rc, err := s.Open(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadAll(rc); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("corrupt blob read without error: %v", err)
	}
}
