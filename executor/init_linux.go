package executor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Init must be the first call in main(). If this process was started by
// Sandbox.Run as the sandbox init, Init runs the sandbox and exits the
// process (never returns); otherwise it returns immediately.
func Init() {
	if len(os.Args) == 0 || os.Args[0] != initArg0 {
		return
	}
	// Capabilities and no_new_privs are per thread: set them on this one
	// and start the process from it.
	runtime.LockOSThread()
	os.Exit(initMain())
}

func initMain() int {
	cfgFile, status := os.NewFile(3, "config"), os.NewFile(4, "status")
	closeOnExecFrom(3)
	// As PID 1 the init is only killable from inside by signals it handles;
	// catch them all so none makes the Go runtime exit.
	signal.Notify(make(chan os.Signal, 1))

	var cfg initConfig
	err := json.NewDecoder(cfgFile).Decode(&cfg)
	cfgFile.Close()
	res := initResult{Error: fmt.Sprintf("read sandbox config: %v", err)}
	if err == nil {
		res = runSandbox(&cfg)
	}
	json.NewEncoder(status).Encode(res)
	status.Close()
	if res.Error != "" {
		return 1
	}
	return res.Code
}

// closeOnExecFrom marks every descriptor from first on close-on-exec: the
// pipes from Run, and whatever the caller of xbuild leaked into it, which
// must never reach the sandboxed process.
func closeOnExecFrom(first int) {
	if unix.CloseRange(uint(first), math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC) == nil {
		return
	}
	entries, _ := os.ReadDir("/proc/self/fd")
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd >= first {
			unix.CloseOnExec(fd)
		}
	}
}

// runSandbox sets the sandbox up, runs the process and tears the sandbox
// down again, whatever failed.
func runSandbox(cfg *initConfig) initResult {
	s := &sandbox{cfg: cfg, prefix: cfg.Rootfs}
	defer s.teardown()
	if err := s.setup(); err != nil {
		return initResult{Error: err.Error()}
	}
	ws, err := s.exec()
	if err != nil {
		return initResult{Error: err.Error()}
	}
	if ws.Signaled() {
		return initResult{Code: 128 + int(ws.Signal()), Signal: int(ws.Signal())}
	}
	return initResult{Code: ws.ExitStatus()}
}

// exec resolves the user, prepares env and working dir inside the new root,
// starts the process, and reaps until it exits; then it kills and reaps
// everything left in the PID namespace.
func (s *sandbox) exec() (unix.WaitStatus, error) {
	cfg := s.cfg
	u, err := lookupUser(cfg.User)
	if err != nil {
		return 0, err
	}
	env := withDefaults(cfg.Env, u.Home)
	if err := os.MkdirAll(cfg.Cwd, 0o755); err != nil {
		return 0, fmt.Errorf("create working directory: %w", err)
	}
	argv0, err := lookPath(cfg.Args[0], getenv(env, "PATH"), cfg.Cwd)
	if err != nil {
		return 0, err
	}
	cmd := &exec.Cmd{Path: argv0, Args: cfg.Args, Env: env, Dir: cfg.Cwd,
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		SysProcAttr: &syscall.SysProcAttr{Credential: &syscall.Credential{
			Uid: u.UID, Gid: u.GID, Groups: u.Groups}}}
	unix.Umask(0o022)
	if err := restrictThread(); err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return 0, fmt.Errorf("exec: %q: %w", cfg.Args[0], err)
	}
	ws, err := reap(cmd.Process.Pid)
	killAll()
	return ws, err
}

// reap waits for any child until pid exits, and returns its status.
func reap(pid int) (unix.WaitStatus, error) {
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(-1, &ws, 0, nil)
		switch {
		case err == unix.EINTR:
		case err != nil:
			return ws, fmt.Errorf("wait for process: %w", err)
		case got == pid:
			return ws, nil
		}
	}
}

// killAll kills every other process in the PID namespace and reaps them.
func killAll() {
	unix.Kill(-1, unix.SIGKILL)
	for {
		_, err := unix.Wait4(-1, nil, 0, nil)
		if err != unix.EINTR && err != nil {
			return
		}
	}
}

func lookupUser(spec string) (ids, error) {
	passwd, err := readOptional("/etc/passwd")
	if err != nil {
		return ids{}, err
	}
	group, err := readOptional("/etc/group")
	if err != nil {
		return ids{}, err
	}
	return resolveUser(spec, passwd, group)
}

// readOptional reads a file; a missing file is a nil reader.
func readOptional(name string) (io.Reader, error) {
	b, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(b), nil
}

// withDefaults adds PATH and HOME to env when it has none.
func withDefaults(env []string, home string) []string {
	out := slices.Clone(env)
	if _, ok := lookupEnv(env, "PATH"); !ok {
		out = append(out, "PATH="+defaultPath)
	}
	if _, ok := lookupEnv(env, "HOME"); !ok {
		out = append(out, "HOME="+home)
	}
	return out
}

// lookupEnv returns the last value of key in env, as exec would use it.
func lookupEnv(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, _ := strings.Cut(env[i], "="); k == key {
			return v, true
		}
	}
	return "", false
}

func getenv(env []string, key string) string {
	v, _ := lookupEnv(env, key)
	return v
}

// lookPath finds name in pathList the way a shell does; a name with a slash
// is used as it is. Relative entries are relative to cwd.
func lookPath(name, pathList, cwd string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	for _, dir := range filepath.SplitList(pathList) {
		p := filepath.Join(dir, name)
		at := p
		if !filepath.IsAbs(p) { // relative to the working directory
			p, at = "./"+p, filepath.Join(cwd, p)
		}
		fi, err := os.Stat(at)
		if err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", &exec.Error{Name: name, Err: exec.ErrNotFound}
}
