package progress

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/xbuild/xbuild/llb"
	"github.com/xbuild/xbuild/solver"
)

// Modes accepted by --progress.
const (
	Auto  = "auto"
	TTY   = "tty"
	Plain = "plain"
	Quiet = "quiet"
)

// Printer renders progress. It is safe for concurrent use.
type Printer struct {
	w     io.Writer
	quiet bool
	mu    sync.Mutex
	next  int
	last  int // id of the vertex that printed last
	steps map[any]*step
}

var _ solver.Reporter = (*Printer)(nil)

type step struct {
	id      int
	name    string
	started time.Time
	partial []byte
}

// New returns a printer for mode (auto, tty and plain all print the plain
// format for now; quiet prints nothing).
func New(w io.Writer, mode string) (*Printer, error) {
	switch mode {
	case Auto, TTY, Plain, "":
		return &Printer{w: w, steps: map[any]*step{}}, nil
	case Quiet:
		return &Printer{w: io.Discard, quiet: true, steps: map[any]*step{}}, nil
	}
	return nil, fmt.Errorf("invalid --progress %q: use auto, tty, plain or quiet", mode)
}

func hidden(v *llb.Vertex) bool { return v.Meta().Name == "" }

// Started implements solver.Reporter.
func (p *Printer) Started(v *llb.Vertex) {
	if !hidden(v) {
		p.start(v, v.Meta().Name)
	}
}

// Cached implements solver.Reporter.
func (p *Printer) Cached(v *llb.Vertex) {
	if hidden(v) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.header(v, v.Meta().Name)
	fmt.Fprintf(p.w, "#%d CACHED\n", s.id)
}

// Log implements solver.Reporter.
func (p *Printer) Log(v *llb.Vertex) io.Writer {
	if hidden(v) {
		return io.Discard
	}
	return logWriter{p: p, key: v}
}

// Done implements solver.Reporter.
func (p *Printer) Done(v *llb.Vertex, err error) {
	if !hidden(v) {
		p.done(v, v.Meta().Name, err)
	}
}

// Step starts a progress step that is not a graph vertex (e.g. exporting).
func (p *Printer) Step(name string) *Step {
	key := &Step{p: p, name: name}
	p.start(key, name)
	return key
}

// Step is a non-vertex step.
type Step struct {
	p    *Printer
	name string
}

// Printf prints a line in the step.
func (s *Step) Printf(format string, args ...any) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	st := s.p.header(s, s.name)
	fmt.Fprintf(s.p.w, "#%d "+format+"\n", append([]any{st.id}, args...)...)
}

// Done ends the step.
func (s *Step) Done(err error) { s.p.done(s, s.name, err) }

func (p *Printer) start(key any, name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.header(key, name)
	s.started = time.Now()
}

// header returns the step for key, printing its header line if it is new
// or if another step printed since.
func (p *Printer) header(key any, name string) *step {
	s, ok := p.steps[key]
	if !ok {
		p.next++
		s = &step{id: p.next, name: name, started: time.Now()}
		p.steps[key] = s
	}
	if p.last != s.id {
		if p.last != 0 {
			fmt.Fprintln(p.w)
		}
		fmt.Fprintf(p.w, "#%d %s\n", s.id, name)
		p.last = s.id
	}
	return s
}

func (p *Printer) done(key any, name string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.header(key, name)
	p.flushPartial(s)
	if err != nil {
		fmt.Fprintf(p.w, "#%d ERROR: %v\n", s.id, err)
		return
	}
	fmt.Fprintf(p.w, "#%d DONE %.1fs\n", s.id, time.Since(s.started).Seconds())
}

func (p *Printer) flushPartial(s *step) {
	if len(s.partial) > 0 {
		p.line(s, s.partial)
		s.partial = nil
	}
}

func (p *Printer) line(s *step, b []byte) {
	fmt.Fprintf(p.w, "#%d %.3f %s\n", s.id, time.Since(s.started).Seconds(), b)
}

type logWriter struct {
	p   *Printer
	key any
}

func (l logWriter) Write(b []byte) (int, error) {
	if l.p.quiet {
		return len(b), nil
	}
	l.p.mu.Lock()
	defer l.p.mu.Unlock()
	v := l.key.(*llb.Vertex)
	s := l.p.header(l.key, v.Meta().Name)
	s.partial = append(s.partial, b...)
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		l.p.line(s, bytes.TrimSuffix(s.partial[:i], []byte("\r")))
		s.partial = s.partial[i+1:]
	}
	return len(b), nil
}
