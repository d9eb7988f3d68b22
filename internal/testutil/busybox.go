package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// RepoRoot returns the directory holding go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

// Busybox returns the path of the static busybox binary fetched by
// `make busybox` ($XBUILD_BUSYBOX or .cache/busybox/busybox). It fails the
// test when the binary is missing: run the tests through `make test`.
func Busybox(t testing.TB) string {
	t.Helper()
	p := os.Getenv("XBUILD_BUSYBOX")
	if p == "" {
		p = filepath.Join(RepoRoot(t), ".cache", "busybox", "busybox")
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("static busybox not found at %s: run `make busybox` (or `make test`)", p)
	}
	return p
}

// RequireRoot skips a test that needs root (namespaces, mounts) when not
// run as root. CI runs as root, so these tests always run there.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("test needs root and CI is set")
		}
		t.Skip("needs root")
	}
}

// BusyboxRootfs makes a directory with busybox installed as /bin/busybox and
// its applets as symlinks in /bin, plus /etc/passwd and /etc/group with root
// (0), daemon (1), nobody (65534) and a user "app" (1000, groups app and
// staff).
func BusyboxRootfs(t testing.TB) string {
	t.Helper()
	bb := Busybox(t)
	dir := t.TempDir()
	for _, d := range []string{"bin", "etc", "tmp", "root", "home/app"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(dir, "tmp"), 0o1777)
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		t.Fatalf("busybox --list: %v", err)
	}
	for _, name := range splitLines(string(out)) {
		if name == "busybox" {
			continue
		}
		os.Symlink("busybox", filepath.Join(dir, "bin", name))
	}
	write := func(p, s string) {
		if err := os.WriteFile(filepath.Join(dir, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/passwd", Passwd)
	write("etc/group", Group)
	return dir
}

// Passwd and Group are the account files of the test base images.
const (
	Passwd = "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	Group  = "root:x:0:\ndaemon:x:1:\nstaff:x:50:app\napp:x:1000:\nnogroup:x:65534:\n"
)

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}
