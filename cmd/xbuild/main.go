// Command xbuild builds Dockerfiles into OCI images without a daemon, runs
// them and shows how they were made.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/xbuild/xbuild/executor"
)

// usageError is bad usage: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }

// codedError is a failure with its own exit code (docker run's 125–127).
type codedError struct {
	code int
	err  error
}

func (e codedError) Error() string { return e.err.Error() }

// exitCode is a command's own exit status (a container's), not a failure.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

type command struct {
	name    string
	aliases []string
	usage   string
	run     func(ctx context.Context, g *globals, args []string) error
}

var commands []*command

func init() {
	commands = []*command{
		{name: "build", usage: "build [OPTIONS] PATH", run: runBuild},
		{name: "images", aliases: []string{"image ls", "image list"}, usage: "images", run: runImages},
		{name: "history", aliases: []string{"image history"}, usage: "history [OPTIONS] IMAGE", run: runHistory},
		{name: "inspect", aliases: []string{"image inspect"}, usage: "inspect IMAGE [IMAGE...]", run: runInspect},
		{name: "rmi", aliases: []string{"image rm"}, usage: "rmi IMAGE [IMAGE...]", run: runRmi},
		{name: "tag", aliases: []string{"image tag"}, usage: "tag SOURCE TARGET", run: runTag},
		{name: "run", usage: "run [OPTIONS] IMAGE [COMMAND] [ARG...]", run: runRun},
		{name: "pull", aliases: []string{"image pull"}, usage: "pull NAME[:TAG|@DIGEST]", run: runPull},
		{name: "push", aliases: []string{"image push"}, usage: "push NAME[:TAG]", run: runPush},
		{name: "save", aliases: []string{"image save"}, usage: "save [-o FILE] [--format docker|oci] IMAGE [IMAGE...]", run: runSave},
		{name: "load", aliases: []string{"image load"}, usage: "load [-i FILE]", run: runLoad},
		{name: "version", usage: "version", run: runVersion},
	}
}

func main() {
	executor.Init()
	os.Exit(realMain(os.Args[1:]))
}

func realMain(args []string) int {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-sigs
		cancel(interrupted{sig.(syscall.Signal)})
		signal.Stop(sigs)
	}()
	g, rest, err := parseGlobals(args)
	if err == nil {
		cmd, cmdArgs := pickCommand(rest)
		if cmd == nil {
			printUsage()
			return 0
		}
		err = cmd.run(ctx, g, cmdArgs)
	}
	return report(ctx, err)
}

// pickCommand finds the subcommand; anything else is a build, so that
// `xbuild -t name .` works like `xbuild build -t name .`.
func pickCommand(args []string) (*command, []string) {
	if len(args) == 0 {
		return nil, nil
	}
	for _, c := range commands {
		if args[0] == c.name {
			return c, args[1:]
		}
		for _, a := range c.aliases {
			if len(args) >= 2 && args[0]+" "+args[1] == a {
				return c, args[2:]
			}
		}
	}
	if args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
		return nil, nil
	}
	return commands[0], args
}

func report(ctx context.Context, err error) int {
	var code exitCode
	var ue usageError
	var coded codedError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &code):
		return int(code)
	case errors.Is(err, pflag.ErrHelp):
		return 0
	case errors.As(err, &coded):
		printFailure(coded.err)
		return coded.code
	case errors.As(err, &ue):
		fmt.Fprintf(os.Stderr, "ERROR: %v\nRun 'xbuild --help' for usage.\n", ue.err)
		return 2
	}
	printFailure(err)
	var in interrupted
	if errors.As(context.Cause(ctx), &in) {
		return 128 + int(in.sig)
	}
	return 1
}

// interrupted is the cancel cause when a signal stops xbuild; the exit code
// is 128 + the signal number, as shells report it.
type interrupted struct{ sig syscall.Signal }

func (i interrupted) Error() string { return fmt.Sprintf("interrupted by %v", i.sig) }

func printUsage() {
	fmt.Println("Usage: xbuild [--root DIR] [--progress MODE] COMMAND [ARGS]")
	fmt.Println("\nA daemonless Dockerfile build engine.\n\nCommands:")
	for _, c := range commands {
		fmt.Printf("  %-40s\n", c.usage)
	}
	fmt.Println("\n`xbuild [OPTIONS] PATH` is `xbuild build [OPTIONS] PATH`.")
}
