package ops

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/xbuild/xbuild/llb"
)

func TestEnsureCacheDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
	dir := filepath.Join(t.TempDir(), "cache-mounts", "x")
	m := llb.ExecMount{UID: 1000, GID: 50, Mode: 0o1770}
	if err := ensureCacheDir(dir, m); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm() != 0o770 || fi.Mode()&os.ModeSticky == 0 || st.Uid != 1000 || st.Gid != 50 {
		t.Errorf("cache dir: mode %v owner %d:%d, want drwxrwx--T 1000:50", fi.Mode(), st.Uid, st.Gid)
	}
	// An existing dir is kept as it is.
	if err := os.WriteFile(filepath.Join(dir, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ensureCacheDir(dir, llb.ExecMount{Mode: 0o755}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "f")); err != nil {
		t.Errorf("existing cache dir was replaced: %v", err)
	}
}

func TestLockDirWaits(t *testing.T) {
	dir := t.TempDir()
	unlock, err := lockDir(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := lockDir(ctx, dir); err == nil {
		t.Fatal("second lock succeeded while the first was held")
	}
	unlock()
	unlock2, err := lockDir(context.Background(), dir)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	unlock2()
}

func TestExecKeyIgnoresSecretValues(t *testing.T) {
	op := llb.ExecOp{Args: []string{"true"}, Mounts: []llb.ExecMount{{Type: "secret", ID: "s", Target: "/run/secrets/s", Mode: 0o400}}}
	in := []digest.Digest{digest.FromString("parent")}
	a := &execOp{env: &Env{}, op: op, secrets: Secrets{"s": []byte("one")}}
	b := &execOp{env: &Env{}, op: op, secrets: Secrets{"s": []byte("two")}}
	ka, _ := a.CacheKey(context.Background(), in)
	kb, _ := b.CacheKey(context.Background(), in)
	if ka != kb {
		t.Errorf("keys differ with the secret's value: %s %s", ka, kb)
	}
	op.Mounts[0].ID = "other"
	c := &execOp{env: &Env{}, op: op}
	if kc, _ := c.CacheKey(context.Background(), in); kc == ka {
		t.Errorf("key does not change with the secret's ID")
	}
	if string(llb.Encode(a.op)) != string(llb.Encode(b.op)) {
		t.Errorf("encodings differ")
	}
}
