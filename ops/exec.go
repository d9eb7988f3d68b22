package ops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/xbuild/xbuild/executor"
	"github.com/xbuild/xbuild/llb"
	"github.com/xbuild/xbuild/solver"
)

// execOp runs a RUN step.
type execOp struct {
	env     *Env
	op      llb.ExecOp
	secrets Secrets // values for secret mounts; never part of the key
}

func (o *execOp) CacheKey(ctx context.Context, in []digest.Digest) (digest.Digest, error) {
	op := o.op
	op.Env = append([]string(nil), op.Env...)
	sort.Strings(op.Env)
	op.ProxyEnv = nil // never part of the key
	return key(op, in), nil
}

// ExecError is a RUN step that exited non-zero.
type ExecError struct {
	Args []string
	Err  error    // *executor.ExitError or a setup error
	Tail []string // last lines of output
}

func (e *ExecError) Error() string {
	return fmt.Sprintf("process %q did not complete successfully: %v", strings.Join(e.Args, " "), e.Err)
}

func (e *ExecError) Unwrap() error { return e.Err }

// TailLines is how many lines of a failed step's output an error keeps.
const TailLines = 20

func (o *execOp) Exec(ctx context.Context, in []solver.Result, log io.Writer) (solver.Result, error) {
	parent := in[0]
	s := o.env.Snapshots
	key := s.NewKey()
	mounts, err := s.Prepare(ctx, key, parent.Snapshot)
	if err != nil {
		return nil, err
	}
	tail := &tailWriter{max: TailLines}
	out := io.MultiWriter(log, tail)
	rm, err := o.setupMounts(ctx, in)
	if err == nil {
		env := append(append([]string(nil), o.op.Env...), rm.env...)
		err = o.env.Executor.Run(ctx, mounts, rm.mounts, executor.Process{
			Args: o.op.Args, Env: withProxy(env, o.op.ProxyEnv), Cwd: o.op.Cwd, User: o.op.User, Network: o.op.Network,
			Hostname: o.op.Hostname, Stdout: out, Stderr: out,
		})
	}
	rm.release()
	if err != nil {
		s.Remove(context.WithoutCancel(ctx), key)
		var ee *executor.ExitError
		if errors.As(err, &ee) {
			return nil, &ExecError{Args: o.op.Args, Err: ee, Tail: tail.Lines()}
		}
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, err
	}
	rec, err := o.env.commit(ctx, key, parent)
	if err != nil {
		s.Remove(context.WithoutCancel(ctx), key)
	}
	return rec, err
}

// withProxy returns env with the proxy variables set, replacing variables
// of the same name (the proxy build args win, as in BuildKit).
func withProxy(env, proxy []string) []string {
	if len(proxy) == 0 {
		return env
	}
	out := make([]string, 0, len(env)+len(proxy))
	idx := map[string]int{}
	for _, kv := range append(append([]string(nil), env...), proxy...) {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[k]; ok {
			out[i] = kv
			continue
		}
		idx[k] = len(out)
		out = append(out, kv)
	}
	return out
}

// tailWriter keeps the last max lines written to it.
type tailWriter struct {
	mu    sync.Mutex
	max   int
	lines []string
	part  []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.part = append(t.part, p...)
	for {
		i := bytes.IndexByte(t.part, '\n')
		if i < 0 {
			break
		}
		t.push(string(t.part[:i]))
		t.part = t.part[i+1:]
	}
	if len(t.part) > 64<<10 {
		t.push(string(t.part))
		t.part = nil
	}
	return len(p), nil
}

func (t *tailWriter) push(line string) {
	t.lines = append(t.lines, line)
	if len(t.lines) > t.max {
		t.lines = t.lines[len(t.lines)-t.max:]
	}
}

// Lines returns the kept lines, the unterminated last one included.
func (t *tailWriter) Lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := append([]string(nil), t.lines...)
	if len(t.part) > 0 {
		out = append(out, string(t.part))
	}
	if len(out) > t.max {
		out = out[len(out)-t.max:]
	}
	return out
}
