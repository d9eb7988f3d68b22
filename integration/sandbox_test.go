package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestSandbox(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	hostFile := filepath.Join(t.TempDir(), "host-only-file")
	must(t, os.WriteFile(hostFile, []byte("host\n"), 0o644))
	if _, err := os.Stat(hostFile); err != nil {
		t.Fatal(err)
	}
	img, _ := buildCase(t, r, "sandbox", "--build-arg", "HOSTPATH="+hostFile)
	probe := func(name string) string {
		t.Helper()
		return strings.TrimSpace(content(t, img, "/probe/"+name))
	}

	equal(t, "HOSTPATH seen by the probe", probe("hostpath-arg"), hostFile)
	if got := probe("hostpath"); got != "hidden" {
		t.Errorf("RUN saw the host's %s (%s), want it hidden", hostFile, got)
	}
	// Small, not 1 or 2: the sandbox's init may be a Go program whose
	// threads take PIDs of the namespace too. Host PIDs are in the thousands.
	if pid, err := strconv.Atoi(probe("pid")); err != nil || pid >= 100 {
		t.Errorf("PID of the RUN shell is %q, want a small PID of its own PID namespace", probe("pid"))
	}
	if n, err := strconv.Atoi(probe("nprocs")); err != nil || n > 10 {
		t.Errorf("RUN sees %q processes in /proc, want only the sandbox's few", probe("nprocs"))
	}
	hostInit, err := os.ReadFile("/proc/1/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	hostInitLine := strings.TrimSpace(strings.ReplaceAll(string(hostInit), "\x00", " "))
	switch pid1 := probe("pid1-cmdline"); pid1 {
	case "missing":
		t.Errorf("RUN has no /proc/1")
	case hostInitLine:
		t.Errorf("/proc/1 in RUN is the host's init (%q)", pid1)
	}
	equal(t, "hostname in RUN", probe("hostname"), "buildkitsandbox")
	equal(t, "/etc/hostname in RUN", probe("etc-hostname"), "buildkitsandbox")
	if hosts := probe("etc-hosts"); !strings.Contains(hosts, "localhost") {
		t.Errorf("/etc/hosts in RUN is %q, want it to name localhost", hosts)
	}
	equal(t, "/etc/resolv.conf in RUN", probe("resolv"), "present")
	equal(t, "/dev/null in RUN", probe("devnull"), "chardev")

	// The RUN wrote into /etc, yet what the sandbox supplied stays out of
	// every layer, base layers included.
	if _, ok := lastLayer(t, img).Find("/etc/marker-from-run"); !ok {
		t.Errorf("the RUN's layer lacks /etc/marker-from-run: %v", lastLayer(t, img).Paths())
	}
	for i, l := range img.Layers {
		for _, e := range l.Entries {
			if sandboxPath(e.Path) {
				t.Errorf("layer %d (%s) holds %s, which only the sandbox provides", i, l.Digest, e.Path)
			}
		}
	}
}

// sandboxPath reports whether p is something the sandbox mounts or
// generates, which must never be in a layer of an image FROM scratch.
func sandboxPath(p string) bool {
	switch p {
	case "/etc/resolv.conf", "/etc/hosts", "/etc/hostname":
		return true
	}
	for _, dir := range []string{"/proc", "/dev", "/sys"} {
		if p == dir || strings.HasPrefix(p, dir+"/") {
			return true
		}
	}
	return false
}
