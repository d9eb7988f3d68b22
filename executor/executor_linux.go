package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/xbuild/xbuild/snapshot"
)

// initArg0 is the argv[0] that makes Init run the sandbox init.
const initArg0 = "xbuild-sandbox-init"

const defaultHostname = "buildkitsandbox"

// waitDelay bounds how long Run waits for stdio copying after the sandbox
// is gone (a Stdin reader that never returns would block it forever).
const waitDelay = 10 * time.Second

// initConfig is what Run sends the init, as JSON over its config pipe.
type initConfig struct {
	Rootfs   string // host directory to mount the rootfs at
	Root     []snapshot.Mount
	Files    []fileBind // generated /etc files
	Mounts   []Mount
	Args     []string
	Env      []string
	Cwd      string
	User     string
	Hostname string
	NetNS    bool // new network namespace with lo up
}

// fileBind is a generated host file bind-mounted read-only at Target.
type fileBind struct {
	Target string
	Source string
}

// initResult is what the init sends back, as JSON over its status pipe:
// either why the sandbox could not start the process, or how it ended.
type initResult struct {
	Error  string `json:"error,omitempty"`
	Code   int    `json:"code"`
	Signal int    `json:"signal,omitempty"`
}

// Run runs p in a new sandbox over root with mounts added. It returns nil
// when the process exits 0, *ExitError when it exits non-zero or is killed,
// and a plain error when the sandbox could not start it. When ctx is done
// the whole sandbox is killed and the error wraps context.Cause(ctx). The
// scratch directory is removed before Run returns, cancelled or not.
func (s *Sandbox) Run(ctx context.Context, root []snapshot.Mount, mounts []Mount, p Process) (retErr error) {
	cfg, err := newInitConfig(root, mounts, p)
	if err != nil {
		return err
	}
	dir, err := s.scratch(&cfg)
	if err != nil {
		return err
	}
	defer func() {
		if err := removeScratch(dir); err != nil && retErr == nil {
			retErr = err
		}
	}()
	return runInit(ctx, &cfg, p)
}

func newInitConfig(root []snapshot.Mount, mounts []Mount, p Process) (initConfig, error) {
	cfg := initConfig{Root: root, Mounts: mounts, Args: p.Args, Env: p.Env,
		Cwd: p.Cwd, User: p.User, Hostname: p.Hostname}
	switch {
	case len(root) == 0:
		return cfg, errors.New("sandbox: no rootfs mounts")
	case len(p.Args) == 0:
		return cfg, errors.New("sandbox: no command to run")
	case cfg.Cwd == "":
		cfg.Cwd = "/"
	case !path.IsAbs(cfg.Cwd):
		return cfg, fmt.Errorf("sandbox: working directory %q is not absolute", cfg.Cwd)
	}
	if cfg.Hostname == "" {
		cfg.Hostname = defaultHostname
	}
	switch p.Network {
	case "", "host":
	case "none":
		cfg.NetNS = true
	default:
		return cfg, fmt.Errorf("sandbox: unsupported network mode %q", p.Network)
	}
	for _, m := range mounts {
		if err := checkMount(m); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

func checkMount(m Mount) error {
	if !path.IsAbs(m.Target) {
		return fmt.Errorf("sandbox: mount target %q is not absolute", m.Target)
	}
	switch m.Type {
	case "tmpfs":
		return nil
	case "bind":
		if !filepath.IsAbs(m.Source) {
			return fmt.Errorf("sandbox: bind source %q for %s is not absolute", m.Source, m.Target)
		}
		return nil
	}
	return fmt.Errorf("sandbox: unsupported mount type %q for %s", m.Type, m.Target)
}

// scratchFiles are the names runInit may leave in a scratch directory.
var scratchFiles = []string{"hosts", "hostname", "resolv.conf", "rootfs"}

// scratch makes the run's scratch directory: the rootfs mount point and the
// generated /etc files.
func (s *Sandbox) scratch(cfg *initConfig) (string, error) {
	if err := os.MkdirAll(s.tmpDir, 0o700); err != nil {
		return "", fmt.Errorf("sandbox scratch dir: %w", err)
	}
	// The PID in the name lets the state directory sweep it once this
	// process is gone.
	dir, err := os.MkdirTemp(s.tmpDir, fmt.Sprintf("sandbox-pid%d-", os.Getpid()))
	if err != nil {
		return "", fmt.Errorf("sandbox scratch dir: %w", err)
	}
	resolv, err := os.ReadFile("/etc/resolv.conf")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		removeScratch(dir)
		return "", fmt.Errorf("read host resolv.conf: %w", err)
	}
	files := map[string][]byte{
		"hosts": fmt.Appendf(nil, "127.0.0.1\tlocalhost %s\n::1\tlocalhost ip6-localhost ip6-loopback\n",
			cfg.Hostname),
		"hostname":    []byte(cfg.Hostname + "\n"),
		"resolv.conf": resolv,
	}
	for _, name := range scratchFiles[:3] {
		src := filepath.Join(dir, name)
		if err := os.WriteFile(src, files[name], 0o644); err != nil {
			removeScratch(dir)
			return "", fmt.Errorf("write sandbox %s: %w", name, err)
		}
		cfg.Files = append(cfg.Files, fileBind{Target: "/etc/" + name, Source: src})
	}
	cfg.Rootfs = filepath.Join(dir, "rootfs")
	if err := os.Mkdir(cfg.Rootfs, 0o755); err != nil {
		removeScratch(dir)
		return "", fmt.Errorf("sandbox rootfs dir: %w", err)
	}
	return dir, nil
}

// removeScratch removes a scratch directory entry by entry, never
// recursively: if the rootfs were somehow still mounted there, removing its
// contents would destroy a snapshot.
func removeScratch(dir string) error {
	for _, name := range scratchFiles {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("clean up sandbox: %w", err)
		}
	}
	if err := os.Remove(dir); err != nil {
		return fmt.Errorf("clean up sandbox: %w", err)
	}
	return nil
}

// runInit starts the init in its new namespaces, hands it cfg and waits.
func runInit(ctx context.Context, cfg *initConfig, p Process) error {
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("sandbox pipe: %w", err)
	}
	defer cfgW.Close()
	statusR, statusW, err := os.Pipe()
	if err != nil {
		cfgR.Close()
		return fmt.Errorf("sandbox pipe: %w", err)
	}
	cmd := initCommand(ctx, cfg, p, cfgR, statusW)

	// Pdeathsig fires when the thread that started the init exits: keep
	// this goroutine on one thread until the init is reaped.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	err = cmd.Start()
	cfgR.Close()
	statusW.Close()
	if err != nil {
		statusR.Close()
		return fmt.Errorf("start sandbox: %w", err)
	}
	status := readStatus(statusR)
	sendErr := json.NewEncoder(cfgW).Encode(cfg)
	cfgW.Close()
	if sendErr != nil {
		cmd.Process.Kill()
	}
	waitErr := cmd.Wait()
	res, resErr := (<-status)()
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("sandbox cancelled: %w", context.Cause(ctx))
	case resErr != nil:
		return initFailed(cmd.ProcessState, errors.Join(sendErr, waitErr, resErr))
	case res.Error != "":
		return errors.New(res.Error)
	case res.Code != 0:
		return &ExitError{Code: res.Code, Signal: syscall.Signal(res.Signal)}
	}
	return nil
}

func initCommand(ctx context.Context, cfg *initConfig, p Process, cfgR, statusW *os.File) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "/proc/self/exe")
	cmd.Args = []string{initArg0}
	cmd.Env = []string{}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = p.Stdin, p.Stdout, p.Stderr
	cmd.ExtraFiles = []*os.File{cfgR, statusW} // fds 3 and 4
	cmd.WaitDelay = waitDelay
	flags := syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC
	if cfg.NetNS {
		flags |= syscall.CLONE_NEWNET
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: uintptr(flags), Pdeathsig: syscall.SIGKILL}
	return cmd
}

// readStatus reads the init's result in the background, until the init (the
// only holder of the write end) exits.
func readStatus(r *os.File) <-chan func() (initResult, error) {
	ch := make(chan func() (initResult, error), 1)
	go func() {
		defer r.Close()
		var res initResult
		b, err := io.ReadAll(r)
		if err == nil {
			err = json.Unmarshal(b, &res)
		}
		ch <- func() (initResult, error) { return res, err }
	}()
	return ch
}

// initFailed describes an init that ended without reporting: killed by a
// signal (e.g. the OOM killer) it is an *ExitError, otherwise a crash.
func initFailed(st *os.ProcessState, err error) error {
	if st != nil {
		if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return &ExitError{Code: 128 + int(ws.Signal()), Signal: ws.Signal()}
		}
	}
	return fmt.Errorf("sandbox init failed: %w", err)
}
