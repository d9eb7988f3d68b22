package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/xbuild/xbuild/build"
	"github.com/xbuild/xbuild/state"
)

// globals are the flags every command takes.
type globals struct {
	root     string
	progress string
	insecure []string
}

func (g *globals) register(fs *pflag.FlagSet) {
	fs.StringVar(&g.root, "root", g.root, "state directory")
	fs.StringVar(&g.progress, "progress", g.progress, "progress output: auto, tty, plain or quiet")
	fs.StringArrayVar(&g.insecure, "insecure-registry", g.insecure, "registry host reached over plain HTTP (loopback registries always are)")
}

// parseGlobals takes global flags that come before the command word.
func parseGlobals(args []string) (*globals, []string, error) {
	g := &globals{root: state.DefaultDir(), progress: "auto"}
	for len(args) > 0 {
		a := args[0]
		name, val, hasVal := strings.Cut(a, "=")
		if name != "--root" && name != "--progress" {
			break
		}
		if !hasVal {
			if len(args) < 2 {
				return nil, nil, usageError{fmt.Errorf("flag needs an argument: %s", name)}
			}
			val, args = args[1], args[1:]
		}
		args = args[1:]
		if name == "--root" {
			g.root = val
		} else {
			g.progress = val
		}
	}
	return g, args, nil
}

// flagSet makes a command's flag set, with the global flags.
func flagSet(name string, g *globals) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SortFlags = false
	fs.SetInterspersed(name != "run")
	g.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, "Usage: xbuild %s\n\n%s", usageOf(name), fs.FlagUsages())
	}
	return fs
}

func usageOf(name string) string {
	for _, c := range commands {
		if c.name == name {
			return c.usage
		}
	}
	return name
}

// parse parses args and checks the number of positional arguments.
func parse(fs *pflag.FlagSet, args []string, min, max int) ([]string, error) {
	if err := fs.Parse(args); err != nil {
		if err == pflag.ErrHelp {
			return nil, err
		}
		return nil, usageError{suggestFlag(fs, err)}
	}
	rest := fs.Args()
	if len(rest) < min || (max >= 0 && len(rest) > max) {
		want := fmt.Sprintf("%d", min)
		if max != min {
			if max < 0 {
				want = fmt.Sprintf("at least %d", min)
			} else {
				want = fmt.Sprintf("%d to %d", min, max)
			}
		}
		return nil, usageError{fmt.Errorf("\"xbuild %s\" requires %s argument(s), got %d (usage: xbuild %s)", fs.Name(), want, len(rest), usageOf(fs.Name()))}
	}
	return rest, nil
}

func openSystem(g *globals) (*build.System, error) {
	return build.Open(g.root)
}

// suggestFlag adds "did you mean --X?" to an unknown-flag error when a
// flag of fs is a small edit away.
func suggestFlag(fs *pflag.FlagSet, err error) error {
	msg := err.Error()
	const prefix = "unknown flag: --"
	if !strings.HasPrefix(msg, prefix) {
		return err
	}
	typed := strings.TrimPrefix(msg, prefix)
	best, bestDist := "", 3
	fs.VisitAll(func(f *pflag.Flag) {
		if d := editDistance(typed, f.Name); d < bestDist {
			best, bestDist = f.Name, d
		}
	})
	if best == "" {
		return err
	}
	return fmt.Errorf("%w (did you mean --%s?)", err, best)
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
