package parser

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	bkparser "github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// Dockerfile is a parsed Dockerfile.
type Dockerfile struct {
	File     string // name used in errors, e.g. "Dockerfile"
	Stages   []instructions.Stage
	MetaArgs []instructions.ArgCommand // ARGs before the first FROM
	Escape   rune
	Warnings []string
	lines    []string
}

// Error is an error tied to a Dockerfile line.
type Error struct {
	File   string
	Line   int
	Err    error
	Source []string // the Dockerfile's lines, for Excerpt; may be nil
}

// Excerpt renders the failing line with one line of context on each side,
// as BuildKit prints it:
//
//	Dockerfile:3
//	--------------------
//	   2 |     RUN true
//	   3 | >>> RUN exit 3
//	   4 |     CMD ["sh"]
//	--------------------
//
// It returns nil when the line or the source is unknown.
func (e *Error) Excerpt() []string {
	if e.Line <= 0 || e.Line > len(e.Source) {
		return nil
	}
	out := []string{fmt.Sprintf("%s:%d", e.File, e.Line), "--------------------"}
	for n := max(1, e.Line-1); n <= min(len(e.Source), e.Line+1); n++ {
		mark := "    "
		if n == e.Line {
			mark = ">>> "
		}
		out = append(out, strings.TrimRight(fmt.Sprintf("%4d | %s%s", n, mark, e.Source[n-1]), " \t\r"))
	}
	return append(out, "--------------------")
}

func (e *Error) Error() string {
	if e.Line <= 0 {
		return fmt.Sprintf("%s: %v", e.File, e.Err)
	}
	return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Parse parses the Dockerfile src; file is the name errors use.
func Parse(file string, src []byte) (df *Dockerfile, err error) {
	defer func() {
		var pe *Error
		if errors.As(err, &pe) && pe.Source == nil {
			pe.Source = strings.Split(string(src), "\n")
		}
	}()
	if len(bytes.TrimSpace(src)) == 0 {
		return nil, &Error{File: file, Err: errors.New("the Dockerfile is empty")}
	}
	res, err := bkparser.Parse(bytes.NewReader(src))
	if err != nil {
		return nil, locate(file, err)
	}
	df = &Dockerfile{File: file, Escape: res.EscapeToken, lines: strings.Split(string(src), "\n")}
	if syn := syntaxDirective(src); syn != "" {
		df.Warnings = append(df.Warnings, fmt.Sprintf("%s:1: the syntax directive (%s) is ignored: xbuild implements the Dockerfile frontend itself", file, syn))
	}
	for _, w := range res.Warnings {
		df.Warnings = append(df.Warnings, fmt.Sprintf("%s:%d: %s", file, w.Location.Start.Line, w.Short))
	}
	for _, n := range res.AST.Children {
		cmd, err := instructions.ParseInstruction(n)
		if err != nil {
			return nil, &Error{File: file, Line: n.StartLine, Err: unwrapParse(err)}
		}
		if a, ok := cmd.(*instructions.ArgCommand); ok && len(df.Stages) == 0 {
			df.MetaArgs = append(df.MetaArgs, *a)
			continue
		}
		switch c := cmd.(type) {
		case *instructions.Stage:
			df.Stages = append(df.Stages, *c)
		case instructions.Command:
			if len(df.Stages) == 0 {
				return nil, &Error{File: file, Line: n.StartLine, Err: fmt.Errorf("%s: no FROM before this instruction: a Dockerfile must begin with FROM (ARG may come before it)", strings.ToUpper(n.Value))}
			}
			st := &df.Stages[len(df.Stages)-1]
			st.AddCommand(c)
		default:
			return nil, &Error{File: file, Line: n.StartLine, Err: fmt.Errorf("unexpected instruction %s", n.Value)}
		}
	}
	if len(df.Stages) == 0 {
		return nil, &Error{File: file, Err: errors.New("no FROM instruction: a Dockerfile must have at least one stage")}
	}
	return df, nil
}

// Errorf makes an error located at the first line of loc.
func (d *Dockerfile) Errorf(loc []bkparser.Range, format string, args ...any) error {
	return d.Wrap(loc, fmt.Errorf(format, args...))
}

// Wrap locates err at the first line of loc (unless it is already located).
func (d *Dockerfile) Wrap(loc []bkparser.Range, err error) error {
	var pe *Error
	if err == nil || errors.As(err, &pe) {
		return err
	}
	line := 0
	if len(loc) > 0 {
		line = loc[0].Start.Line
	}
	return &Error{File: d.File, Line: line, Err: err, Source: d.lines}
}

// Source returns the file's lines.
func (d *Dockerfile) Source() []string { return d.lines }

// Line returns the text of source line n (1-based), trimmed.
func (d *Dockerfile) Line(n int) string {
	if n < 1 || n > len(d.lines) {
		return ""
	}
	return strings.TrimSpace(d.lines[n-1])
}

// Lex returns a word expander using the file's escape character.
func (d *Dockerfile) Lex() *shell.Lex { return shell.NewLex(d.Escape) }

func locate(file string, err error) error {
	var le *bkparser.LocationError
	line := 0
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		line = le.Locations[0][0].Start.Line
	}
	return &Error{File: file, Line: line, Err: unwrapParse(err)}
}

// unwrapParse drops BuildKit's "dockerfile parse error on line N:" prefix,
// which Error replaces with "Dockerfile:N:".
func unwrapParse(err error) error {
	for {
		msg := err.Error()
		if !strings.HasPrefix(msg, "dockerfile parse error") {
			break
		}
		inner := errors.Unwrap(err)
		if inner == nil {
			if i := strings.Index(msg, ": "); i >= 0 {
				return errors.New(msg[i+2:])
			}
			break
		}
		err = inner
	}
	var le *bkparser.LocationError
	if errors.As(err, &le) && le.Unwrap() != nil && err == error(le) {
		return le.Unwrap()
	}
	return err
}

// syntaxDirective returns the value of a "# syntax=" parser directive at
// the top of the file, or "".
func syntaxDirective(src []byte) string {
	for _, line := range strings.Split(string(src), "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "#") {
			return ""
		}
		k, v, ok := strings.Cut(strings.TrimSpace(strings.TrimPrefix(line, "#")), "=")
		if !ok {
			return ""
		}
		if strings.EqualFold(strings.TrimSpace(k), "syntax") {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
