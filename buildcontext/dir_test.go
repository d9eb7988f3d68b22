package buildcontext

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/xbuild/xbuild/state"
)

func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		full := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func walkAll(t *testing.T, d *Dir, rel string) []string {
	t.Helper()
	var out []string
	if err := d.Walk(rel, func(p string, fi fs.FileInfo) error { out = append(out, p); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMatchAndIgnore(t *testing.T) {
	dir := tree(t, map[string]string{"a.go": "a", "b.go": "b", "c.txt": "c", "sub/d.go": "d", "secret.key": "k", "logs/x.log": "x", "logs/keep.log": "k"})
	d, err := Open(dir, []string{"*.key", "logs", "!logs/keep.log"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.Match("*.go", false)
	if err != nil || !reflect.DeepEqual(got, []Match{{"a.go", "a.go"}, {"b.go", "b.go"}}) {
		t.Fatalf("*.go → %v, %v", got, err)
	}
	if _, err := d.Match("secret.key", false); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ignored file matched: %v", err)
	}
	if _, err := d.Match("nope.txt", true); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := d.Match("nope*", false); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty wildcard without allowEmpty: %v", err)
	}
	if m, err := d.Match("nope*", true); err != nil || len(m) != 0 {
		t.Fatalf("empty wildcard with allowEmpty: %v %v", m, err)
	}
	all := walkAll(t, d, "")
	want := []string{"", "a.go", "b.go", "c.txt", "logs", "logs/keep.log", "sub", "sub/d.go"}
	if !reflect.DeepEqual(all, want) {
		t.Fatalf("walk = %v, want %v", all, want)
	}
}

func TestHashSelectsOnlyNamedFilesAndUsesMemo(t *testing.T) {
	ctx := context.Background()
	dir := tree(t, map[string]string{"a.txt": "a", "b.txt": "b"})
	root, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d, _ := Open(dir, nil)
	memo, _ := LoadMemo(ctx, root, dir)
	ha, err := d.Hash(ctx, []string{"a.txt"}, memo)
	if err != nil {
		t.Fatal(err)
	}
	if err := memo.Save(ctx); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "b.txt"), []byte("changed"), 0o644)
	memo2, _ := LoadMemo(ctx, root, dir)
	if len(memo2.known) != 1 {
		t.Fatalf("memo has %d entries, want 1", len(memo2.known))
	}
	if ha2, _ := d.Hash(ctx, []string{"a.txt"}, memo2); ha2 != ha {
		t.Fatal("changing b.txt changed the hash of a.txt")
	}
	if len(memo2.dirty) != 0 {
		t.Fatal("unchanged a.txt was re-hashed instead of taken from the memo")
	}
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("A"), 0o644)
	if ha3, _ := d.Hash(ctx, []string{"a.txt"}, memo2); ha3 == ha {
		t.Fatal("changing a.txt kept its hash")
	}
	os.Chmod(filepath.Join(dir, "a.txt"), 0o600)
	ha4, _ := d.Hash(ctx, []string{"a.txt"}, memo2)
	os.Chmod(filepath.Join(dir, "a.txt"), 0o644)
	if ha5, _ := d.Hash(ctx, []string{"a.txt"}, memo2); ha4 == ha5 {
		t.Fatal("mode is not part of the hash")
	}
}

func TestSymlinksStayInsideTheRoot(t *testing.T) {
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("host secret"), 0o644)
	dir := tree(t, map[string]string{"real.txt": "real", "realdir/x": "x"})
	os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "evil"))
	os.Symlink(outside, filepath.Join(dir, "hostdir"))
	os.Symlink("real.txt", filepath.Join(dir, "link.txt"))
	os.Symlink("realdir", filepath.Join(dir, "linkdir"))
	d, _ := Open(dir, nil)
	for _, src := range []string{"evil", "evi*", "hostdir/secret", "hostdir/*", "host*/secret"} {
		ms, err := d.Match(src, true)
		if err != nil {
			continue // not found inside the root: fine
		}
		for _, m := range ms {
			if b, err := os.ReadFile(d.Path(m.Path)); err == nil && string(b) == "host secret" {
				t.Errorf("Match(%q) reached the host file through %+v", src, m)
			}
		}
	}
	ms, err := d.Match("link.txt", false)
	if err != nil || ms[0].Name != "link.txt" || ms[0].Path != "real.txt" {
		t.Fatalf("link.txt → %+v %v, want name link.txt read from real.txt", ms, err)
	}
	ms, err = d.Match("link*", false)
	if err != nil || len(ms) != 2 || ms[0].Path != "real.txt" || ms[1].Path != "realdir" {
		t.Fatalf("link* → %+v %v", ms, err)
	}
}

func TestReincludedEntriesBringTheirParents(t *testing.T) {
	dir := tree(t, map[string]string{"package.json": "{}", "src/a.js": "a", "src/lib/b.js": "b", "junk/x": "x", "node_modules/m/i.js": "m"})
	d, err := Open(dir, []string{"*", "!package.json", "!src/**"})
	if err != nil {
		t.Fatal(err)
	}
	got := walkAll(t, d, "")
	want := []string{"", "package.json", "src", "src/a.js", "src/lib", "src/lib/b.js"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("walk = %v, want %v", got, want)
	}
	if d.mayReinclude("node_modules") {
		t.Fatal("node_modules would be descended although no pattern can re-include below it")
	}
}
