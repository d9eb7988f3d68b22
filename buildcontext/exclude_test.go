package buildcontext

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestHashExcluding(t *testing.T) {
	ctx := context.Background()
	dir := tree(t, map[string]string{"app/main.go": "m", "app/debug.log": "l", "app/tmp/x": "x", "home.md": "h", "homer.txt": "t"})
	d, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	srcs, excl := []string{"app", "hom*"}, []string{"*.log", "tmp", "*.txt"}
	before, err := d.HashExcluding(ctx, srcs, excl, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"app/debug.log", "app/tmp/x", "homer.txt"} {
		if err := os.WriteFile(filepath.Join(dir, p), []byte("changed"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if after, _ := d.HashExcluding(ctx, srcs, excl, nil); after != before {
		t.Errorf("changing excluded files changed the hash")
	}
	if plain, _ := d.Hash(ctx, srcs, nil); plain == before {
		t.Errorf("the hash without excludes equals the one with them")
	}
	if err := os.WriteFile(filepath.Join(dir, "app/main.go"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if after, _ := d.HashExcluding(ctx, srcs, excl, nil); after == before {
		t.Errorf("changing an included file kept the hash")
	}
}
