package integration

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Vertex is one "#N" entry of BuildKit's plain progress.
type Vertex struct {
	N      int
	Name   string
	Cached bool
	Done   bool
	Error  string
	Logs   []string // output lines without the "#N 0.123 " prefix
}

// Step is a vertex named "[STAGE k/n] INSTRUCTION".
type Step struct {
	*Vertex
	Stage        string // "" in a single-stage build
	Index, Total int
	Instr        string // "RUN echo hi"
}

// Progress is a parsed plain progress stream.
type Progress struct {
	Vertices []*Vertex // in order of first appearance
	Steps    []Step
}

var (
	lineRe = regexp.MustCompile(`^#(\d+) (.*)$`)
	logRe  = regexp.MustCompile(`^\d+\.\d+(?: (.*))?$`)
	doneRe = regexp.MustCompile(`^DONE \d`)
	stepRe = regexp.MustCompile(`^\[(?:(\S+) )?\s*(\d+)/(\d+)\] (.*)$`)
)

// ParseProgress parses BuildKit's plain progress format: "#N NAME" starts
// (or, repeated, resumes) vertex N; then "#N 0.123 LINE" output,
// "#N CACHED", "#N DONE 1.2s", "#N ERROR: ..."; other "#N ..." lines are
// status lines and ignored, as is everything not starting with "#".
func ParseProgress(stderr string) Progress {
	var p Progress
	byN := map[int]*Vertex{}
	for _, line := range strings.Split(stderr, "\n") {
		m := lineRe.FindStringSubmatch(strings.TrimRight(line, "\r"))
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		rest := m[2]
		v := byN[n]
		if v == nil {
			v = &Vertex{N: n}
			byN[n] = v
			p.Vertices = append(p.Vertices, v)
		}
		switch {
		case rest == "CACHED":
			v.Cached = true
		case doneRe.MatchString(rest):
			v.Done = true
		case strings.HasPrefix(rest, "ERROR"):
			v.Error = strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(rest, "ERROR"), ":"))
		case logRe.MatchString(rest):
			v.Logs = append(v.Logs, logRe.FindStringSubmatch(rest)[1])
		case v.Name == "":
			v.Name = rest
		}
	}
	for _, v := range p.Vertices {
		m := stepRe.FindStringSubmatch(v.Name)
		if m == nil {
			continue
		}
		k, _ := strconv.Atoi(m[2])
		total, _ := strconv.Atoi(m[3])
		p.Steps = append(p.Steps, Step{Vertex: v, Stage: m[1], Index: k, Total: total, Instr: m[4]})
	}
	return p
}

// Find returns the steps whose instruction text contains substr.
func (p Progress) Find(substr string) []Step {
	var out []Step
	for _, s := range p.Steps {
		if strings.Contains(s.Instr, substr) {
			out = append(out, s)
		}
	}
	return out
}

// Step returns the one step whose instruction contains substr, failing the
// test when there is none or more than one.
func (p Progress) Step(t *testing.T, substr string) Step {
	t.Helper()
	found := p.Find(substr)
	if len(found) != 1 {
		t.Fatalf("want exactly one progress step containing %q, found %d; steps:\n%s", substr, len(found), p.describe())
	}
	return found[0]
}

// IsFrom reports whether the step is a FROM (base image) step.
func (s Step) IsFrom() bool { return strings.HasPrefix(s.Instr, "FROM ") }

// Prefix is the bracketed part of the step's name without brackets, e.g.
// "builder 2/3" or "2/3".
func (s Step) Prefix() string {
	if s.Stage == "" {
		return strconv.Itoa(s.Index) + "/" + strconv.Itoa(s.Total)
	}
	return s.Stage + " " + strconv.Itoa(s.Index) + "/" + strconv.Itoa(s.Total)
}

// describe lists the steps for failure messages.
func (p Progress) describe() string {
	var b strings.Builder
	for _, s := range p.Steps {
		b.WriteString("  #" + strconv.Itoa(s.N) + " [" + s.Prefix() + "] " + s.Instr)
		if s.Cached {
			b.WriteString(" (CACHED)")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestParseProgress pins the parser to a sample of BuildKit's plain output,
// so that the progress assertions of the other tests mean something.
func TestParseProgress(t *testing.T) {
	const sample = `#0 building with "default" instance using docker driver

#1 [internal] load build definition from Dockerfile
#1 transferring dockerfile: 120B done
#1 DONE 0.0s

#2 [builder 1/3] FROM docker.io/xbuild-test/busybox:latest
#2 CACHED

#3 [builder 2/3] RUN echo hi
#3 0.215 hi
#3 0.216
#3 DONE 0.3s

#4 [stage-1 1/2] COPY a.txt /a.txt
#4 ERROR: failed to calculate checksum: "/a.txt": not found

#3 [builder 2/3] RUN echo hi
#3 0.300 again
------
 > [stage-1 1/2] COPY a.txt /a.txt:
------
ERROR: Dockerfile:3: COPY a.txt /a.txt: not found
`
	p := ParseProgress(sample)
	if len(p.Vertices) != 5 {
		t.Fatalf("got %d vertices, want 5 (#0..#4)", len(p.Vertices))
	}
	if len(p.Steps) != 3 {
		t.Fatalf("got %d steps, want 3:\n%s", len(p.Steps), p.describe())
	}
	from := p.Steps[0]
	equal(t, "FROM step", []any{from.Stage, from.Index, from.Total, from.Cached, from.IsFrom()}, []any{"builder", 1, 3, true, true})
	run := p.Step(t, "RUN echo hi")
	equal(t, "RUN step prefix", run.Prefix(), "builder 2/3")
	equal(t, "RUN step logs", run.Logs, []string{"hi", "", "again"})
	equal(t, "RUN step done/cached", []bool{run.Done, run.Cached}, []bool{true, false})
	cp := p.Step(t, "COPY a.txt")
	equal(t, "COPY step prefix", cp.Prefix(), "stage-1 1/2")
	equal(t, "COPY step error", cp.Error, `failed to calculate checksum: "/a.txt": not found`)
	if s := ParseProgress("#5 [ 3/10] RUN x\n").Steps; len(s) != 1 || s[0].Index != 3 || s[0].Total != 10 {
		t.Errorf("padded step index not parsed: %+v", s)
	}
}
