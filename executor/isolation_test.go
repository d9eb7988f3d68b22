//go:build linux

package executor_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xbuild/xbuild/executor"
)

func TestPIDNamespace(t *testing.T) {
	r := newRootfs(t)
	out, _, err := r.run(t, executor.Process{Args: sh("echo $$; ls /proc")})
	if err != nil {
		t.Fatal(err)
	}
	// The init is 1; its threads take the next few ids.
	lines := strings.Fields(out)
	if pid, err := strconv.Atoi(lines[0]); err != nil || pid < 2 || pid > 100 {
		t.Fatalf("shell pid is %q, want a small one in a new namespace", lines[0])
	}
	var pids []string
	for _, name := range lines[1:] {
		if _, err := strconv.Atoi(name); err == nil {
			pids = append(pids, name)
		}
	}
	// init, sh and ls (the shell may exec ls as itself)
	if len(pids) > 3 || pids[0] != "1" || !slices.Contains(pids, lines[0]) {
		t.Errorf("/proc lists processes %q, want only the sandbox's", pids)
	}
}

func TestHostnameAndEtcFiles(t *testing.T) {
	r := newRootfs(t)
	hostResolv, _ := os.ReadFile("/etc/resolv.conf")
	script := "hostname; cat /etc/hostname /etc/hosts; echo ---; cat /etc/resolv.conf; echo x >>/etc/hosts 2>/dev/null && echo writable; true"
	out, _, err := r.run(t, executor.Process{Args: sh(script)})
	want := "buildkitsandbox\nbuildkitsandbox\n127.0.0.1\tlocalhost buildkitsandbox\n" +
		"::1\tlocalhost ip6-localhost ip6-loopback\n---\n" + string(hostResolv)
	if err != nil || out != want {
		t.Fatalf("got %q, %v\nwant %q", out, err, want)
	}
	out, _, err = r.run(t, executor.Process{Args: sh("hostname; grep -c box1 /etc/hosts"), Hostname: "box1"})
	if err != nil || out != "box1\n1\n" {
		t.Fatalf("got %q, %v", out, err)
	}
	r.checkUpperClean(t)
}

func TestUpperDirClean(t *testing.T) {
	r := newRootfs(t)
	data := t.TempDir()
	os.WriteFile(filepath.Join(data, "in"), []byte("bound"), 0o644)
	conf := filepath.Join(t.TempDir(), "app.conf")
	os.WriteFile(conf, []byte("conf"), 0o644)
	mounts := []executor.Mount{
		{Target: "/mnt/data", Type: "bind", Source: data, Options: []string{"rbind", "ro"}},
		{Target: "/etc/app.conf", Type: "bind", Source: conf},
		{Target: "/run/t", Type: "tmpfs", Options: []string{"size=1m"}},
	}
	script := `cat /mnt/data/in /etc/app.conf; echo; touch /mnt/data/new 2>/dev/null && echo rw-bind
		echo x >/run/t/f && echo tmpfs; echo made >/made; touch /sys/x 2>/dev/null && echo rw-sys; true`
	out, _, err := r.run(t, executor.Process{Args: sh(script)}, mounts...)
	if err != nil || out != "boundconf\ntmpfs\n" {
		t.Fatalf("got %q, %v", out, err)
	}
	r.checkUpperClean(t, "made")
	if _, err := os.Stat(filepath.Join(data, "new")); err == nil {
		t.Error("read-only bind was written")
	}
}

// An image's /etc/hosts may be a symlink; following it must stay inside the
// rootfs and the files it made must go again.
func TestSymlinkedMountPointStaysInRoot(t *testing.T) {
	r := newRootfs(t)
	outside := fmt.Sprintf("/xbuild-escape-%d", time.Now().UnixNano())
	if err := os.Symlink("/../.."+outside+"/hosts", filepath.Join(r.lower, "etc", "hosts")); err != nil {
		t.Fatal(err)
	}
	out, _, err := r.run(t, executor.Process{Args: []string{"cat", "/etc/hosts"}})
	if err != nil || !strings.HasPrefix(out, "127.0.0.1\tlocalhost") {
		t.Fatalf("got %q, %v", out, err)
	}
	if _, err := os.Lstat(outside); err == nil {
		os.RemoveAll(outside)
		t.Fatalf("sandbox created %s on the host", outside)
	}
	r.checkUpperClean(t)
}

func TestHostFilesInvisible(t *testing.T) {
	r := newRootfs(t)
	secret := filepath.Join(os.TempDir(), fmt.Sprintf("xbuild-secret-%d", time.Now().UnixNano()))
	if err := os.WriteFile(secret, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(secret)
	out, _, err := r.run(t, executor.Process{Args: sh("ls -a / /tmp; cat " + secret)})
	var ee *executor.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("cat of a host file: got %v, want it to fail", err)
	}
	if strings.Contains(out, filepath.Base(secret)) || strings.Contains(out, "secret\n") {
		t.Fatalf("host file visible inside: %q", out)
	}
}

func TestDevProcSys(t *testing.T) {
	r := newRootfs(t)
	script := `for d in null zero full random urandom tty; do test -c /dev/$d || echo no $d; done
		echo x >/dev/null; head -c 3 /dev/zero | wc -c; test -d /dev/pts -a -d /dev/shm || echo no dirs
		echo x >/dev/shm/f || echo no shm; readlink /dev/fd; readlink /dev/ptmx
		echo x >/proc/sys/kernel/hostname 2>/dev/null && echo rw-proc-sys
		touch /sys/x 2>/dev/null && echo rw-sys
		for f in /proc/timer_list /proc/sched_debug; do [ -e $f ] && head -c1 $f | grep -q . && echo open $f; done
		for d in /proc/acpi /proc/scsi /sys/firmware; do [ -d $d ] && ls -A $d | grep -q . && echo open $d; done
		true`
	out, _, err := r.run(t, executor.Process{Args: sh(script)})
	want := "3\n/proc/self/fd\npts/ptmx\n"
	if err != nil || out != want {
		t.Fatalf("got %q, %v; want %q", out, err, want)
	}
	// No descriptor of the init's leaks into the process (3 is ls's own).
	out, _, err = r.run(t, executor.Process{Args: []string{"ls", "/proc/self/fd"}})
	if err != nil || out != "0\n1\n2\n3\n" {
		t.Fatalf("open descriptors: got %q, %v", out, err)
	}
}

func TestUser(t *testing.T) {
	r := newRootfs(t)
	script := `grep -E '^(Uid|Gid|Groups):' /proc/self/status | tr -s '\t ' ' '; echo "HOME=$HOME"`
	for user, want := range map[string]string{
		"":           "Uid: 0 0 0 0\nGid: 0 0 0 0\nGroups: \nHOME=/root\n",
		"app":        "Uid: 1000 1000 1000 1000\nGid: 1000 1000 1000 1000\nGroups: 50 \nHOME=/home/app\n",
		"1000:50":    "Uid: 1000 1000 1000 1000\nGid: 50 50 50 50\nGroups: \nHOME=/home/app\n",
		"app:daemon": "Uid: 1000 1000 1000 1000\nGid: 1 1 1 1\nGroups: \nHOME=/home/app\n",
		"4242":       "Uid: 4242 4242 4242 4242\nGid: 0 0 0 0\nGroups: \nHOME=/\n",
	} {
		out, _, err := r.run(t, executor.Process{Args: sh(script), User: user})
		if err != nil || out != want {
			t.Errorf("user %q: got %q, %v; want %q", user, out, err, want)
		}
	}
	for user, want := range map[string]string{
		"bob":     "unable to find user bob: no matching entries in passwd file",
		"app:nog": "unable to find group nog: no matching entries in group file",
	} {
		_, _, err := r.run(t, executor.Process{Args: []string{"id"}, User: user})
		var ee *executor.ExitError
		if err == nil || errors.As(err, &ee) || err.Error() != want {
			t.Errorf("user %q: got %v, want plain error %q", user, err, want)
		}
	}
	r.checkUpperClean(t)
}

func TestCapabilities(t *testing.T) {
	r := newRootfs(t)
	script := `grep -E '^(CapInh|CapEff|CapBnd|CapAmb|NoNewPrivs):' /proc/self/status | tr -s '\t ' ' '`
	root := "CapInh: 0000000000000000\nCapEff: 00000000a80425fb\nCapBnd: 00000000a80425fb\n" +
		"CapAmb: 0000000000000000\nNoNewPrivs: 1\n"
	app := strings.Replace(root, "CapEff: 00000000a80425fb", "CapEff: 0000000000000000", 1)
	for user, want := range map[string]string{"": root, "app": app} {
		out, _, err := r.run(t, executor.Process{Args: sh(script), User: user})
		if err != nil || out != want {
			t.Errorf("user %q: got %q, %v; want %q", user, out, err, want)
		}
	}
}

func TestNetwork(t *testing.T) {
	r := newRootfs(t)
	out, _, err := r.run(t, executor.Process{Args: sh("cat /proc/net/dev; cat /sys/class/net/lo/flags"), Network: "none"})
	if err != nil {
		t.Fatal(err)
	}
	if got := interfaces(out); !slices.Equal(got, []string{"lo"}) {
		t.Errorf("network none: interfaces %q, want only lo", got)
	}
	if flags, _ := strconv.ParseUint(lastLine(out), 0, 32); flags&1 == 0 {
		t.Errorf("network none: lo is down (flags %q)", lastLine(out))
	}
	host, _ := os.ReadFile("/proc/net/dev")
	out, _, err = r.run(t, executor.Process{Args: []string{"cat", "/proc/net/dev"}, Network: "host"})
	if got, want := interfaces(out), interfaces(string(host)); err != nil || !slices.Equal(got, want) {
		t.Errorf("network host: interfaces %q, %v; want the host's %q", got, err, want)
	}
}

// interfaces lists the interface names in /proc/net/dev text, sorted.
func interfaces(procNetDev string) []string {
	var out []string
	for _, line := range strings.Split(procNetDev, "\n") {
		if name, _, ok := strings.Cut(line, ":"); ok && !strings.Contains(name, "|") {
			out = append(out, strings.TrimSpace(name))
		}
	}
	slices.Sort(out)
	return out
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func TestCancelKillsSandbox(t *testing.T) {
	r := newRootfs(t)
	cause := errors.New("build cancelled")
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(200*time.Millisecond, func() { cancel(cause) })
	start := time.Now()
	_, _, err := r.runCtx(ctx, t, executor.Process{Args: sh("sleep 987 & sleep 986")})
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Run took %v after cancel", took)
	}
	if !errors.Is(err, cause) {
		t.Fatalf("got %v, want an error wrapping the cancel cause", err)
	}
	if pids := append(hostProcesses("sleep\x00987\x00"), hostProcesses("sleep\x00986\x00")...); len(pids) != 0 {
		t.Errorf("left on the host: %q", pids)
	}
}

// Processes the main process leaves behind are killed with the sandbox.
func TestLeftoverProcessesKilled(t *testing.T) {
	r := newRootfs(t)
	start := time.Now()
	out, _, err := r.run(t, executor.Process{Args: sh("sleep 985 & echo started")})
	if err != nil || out != "started\n" || time.Since(start) > 5*time.Second {
		t.Fatalf("got %q, %v after %v", out, err, time.Since(start))
	}
	if pids := hostProcesses("sleep\x00985\x00"); len(pids) != 0 {
		t.Errorf("left on the host: %q", pids)
	}
}

// hostProcesses lists the /proc entries whose cmdline is cmdline.
func hostProcesses(cmdline string) []string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, _ := os.ReadFile(p); string(b) == cmdline {
			out = append(out, filepath.Dir(p))
		}
	}
	return out
}
