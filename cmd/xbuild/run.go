package main

import (
	"context"
	"os"
	"strings"

	"github.com/xbuild/xbuild/runner"
)

func runRun(ctx context.Context, g *globals, args []string) error {
	fs := flagSet("run", g)
	var env []string
	fs.BoolP("rm", "", false, "remove the container when it exits (always done for now)")
	fs.StringArrayVarP(&env, "env", "e", nil, "set an environment variable (K=V, or K to take it from the environment)")
	workdir := fs.StringP("workdir", "w", "", "working directory inside the container")
	user := fs.StringP("user", "u", "", "user[:group] to run as")
	entrypoint := fs.String("entrypoint", "", "override the image's ENTRYPOINT")
	interactive := fs.BoolP("interactive", "i", false, "keep standard input open")
	rest, err := parse(fs, args, 1, -1)
	if err != nil {
		return err
	}
	envMap, err := keyValues(env, "--env", true)
	if err != nil {
		return err
	}
	var envList []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if v, ok := envMap[k]; ok {
			envList = append(envList, k+"="+v)
		}
	}
	sys, err := openSystem(g)
	if err != nil {
		return err
	}
	img, err := sys.Images.Get(ctx, rest[0])
	if err != nil {
		return codedError{125, err}
	}
	opt := runner.Options{
		Image: img, Args: rest[1:], Env: envList, Workdir: *workdir, User: *user,
		Stdout: os.Stdout, Stderr: os.Stderr,
	}
	if fs.Changed("entrypoint") {
		opt.Entrypoint = entrypoint
	}
	if *interactive {
		opt.Stdin = os.Stdin
	}
	code, err := runner.Run(ctx, sys.RunEnv(), opt)
	if err != nil {
		return runFailure(ctx, err)
	}
	if code != 0 {
		return exitCode(code)
	}
	return nil
}

// runFailure gives a container that could not start docker's exit codes:
// 127 when the command is not found, 126 when it cannot be run, 125 for
// any other failure to run.
func runFailure(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return err
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "executable file not found"), strings.Contains(msg, "no such file or directory"):
		return codedError{127, err}
	case strings.Contains(msg, "permission denied"):
		return codedError{126, err}
	}
	return codedError{125, err}
}
