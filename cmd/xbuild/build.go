package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/xbuild/xbuild/build"
	"github.com/xbuild/xbuild/exporter"
	"github.com/xbuild/xbuild/ops"
	"github.com/xbuild/xbuild/parser"
	"github.com/xbuild/xbuild/progress"
)

func runBuild(ctx context.Context, g *globals, args []string) error {
	fs := flagSet("build", g)
	var (
		tags, buildArgs, labels []string
		file, target, iidfile   string
		noCache, quiet          bool
	)
	fs.StringArrayVarP(&tags, "tag", "t", nil, "name and optionally a tag (name:tag)")
	fs.StringVarP(&file, "file", "f", "", "name of the Dockerfile (default: PATH/Dockerfile; - for stdin)")
	fs.StringArrayVar(&buildArgs, "build-arg", nil, "set a build-time variable (K=V, or K to take it from the environment)")
	fs.StringVar(&target, "target", "", "build this stage")
	fs.BoolVar(&noCache, "no-cache", false, "do not use the cache")
	var network string
	var noCacheFilter []string
	fs.StringVar(&network, "network", "default", "network mode of RUN steps: default, none or host")
	fs.StringArrayVar(&noCacheFilter, "no-cache-filter", nil, "do not use the cache for these stages (STAGE[,STAGE…])")
	fs.BoolVarP(&quiet, "quiet", "q", false, "print only the image ID")
	fs.StringVar(&iidfile, "iidfile", "", "write the image ID to this file")
	fs.StringArrayVar(&labels, "label", nil, "set an image label (K=V)")
	var outputs []string
	var push, pull bool
	var metadataFile string
	fs.StringArrayVarP(&outputs, "output", "o", nil, "output: type=image|oci|docker|local|tar|registry[,dest=…][,name=…][,compression=…]")
	fs.BoolVar(&push, "push", false, "push the image to the registry of each -t name")
	fs.BoolVar(&pull, "pull", false, "always ask the registry for base images")
	fs.StringVar(&metadataFile, "metadata-file", "", "write the image's digests and names as JSON to this file")
	var secretFlags []string
	fs.StringArrayVar(&secretFlags, "secret", nil, "secret for RUN --mount=type=secret: id=ID[,src=PATH|,env=VAR]")
	rest, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	if err := checkNetwork(network); err != nil {
		return err
	}
	noCacheStages, err := splitStages(noCacheFilter)
	if err != nil {
		return err
	}
	if quiet {
		g.progress = progress.Quiet
	}
	pr, err := progress.New(os.Stderr, g.progress)
	if err != nil {
		return usageError{err}
	}
	sys, err := openSystem(g)
	if err != nil {
		return err
	}
	labelMap, err := keyValues(labels, "--label", false)
	if err != nil {
		return err
	}
	argMap, err := keyValues(buildArgs, "--build-arg", true)
	if err != nil {
		return err
	}
	var outs []exporter.Output
	for _, o := range outputs {
		out, err := exporter.ParseOutput(o)
		if err != nil {
			return usageError{fmt.Errorf("invalid --output %q: %w", o, err)}
		}
		outs = append(outs, out)
	}
	secrets, err := parseSecrets(secretFlags)
	if err != nil {
		return err
	}
	contextDir := rest[0]
	if contextDir == "-" {
		if file == "-" {
			return usageError{fmt.Errorf("the context and the Dockerfile cannot both come from standard input")}
		}
		dir, df, cleanup, err := build.StdinContext(ctx, sys, os.Stdin, file)
		if err != nil {
			return err
		}
		defer cleanup()
		contextDir, file = dir, df
	}
	client := registryClient(g, sys)
	res, err := build.Build(ctx, sys, build.Options{
		Pull: pull, Registry: client(),
		ContextDir: contextDir, Dockerfile: file, Stdin: os.Stdin, Tags: tags, BuildArgs: argMap,
		Labels: labelMap, Target: target, NoCache: noCache, Progress: pr,
		Network: network, NoCacheFilter: noCacheStages, Secrets: secrets,
	})
	if err != nil {
		return err
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(os.Stderr, "WARNING: %s\n", w)
	}
	if len(outs) > 0 || push || metadataFile != "" {
		req := exportRequest{outputs: outs, tags: res.Names, push: push, metadataFile: metadataFile, client: client}
		if err := export(ctx, sys, pr, res.Image, req); err != nil {
			return err
		}
	}
	id := res.Image.ID().String()
	if iidfile != "" {
		if err := os.WriteFile(iidfile, []byte(id), 0o644); err != nil {
			return fmt.Errorf("write --iidfile: %w", err)
		}
	}
	if quiet {
		fmt.Println(id)
	}
	return nil
}

// parseSecrets reads --secret id=ID[,src=PATH|,env=VAR] values as docker
// buildx does: "id=ID" alone takes environment variable ID, else a file
// ID. A missing variable is left out (RUN steps that require it fail).
func parseSecrets(vals []string) (ops.Secrets, error) {
	out := ops.Secrets{}
	for _, v := range vals {
		var id, src, env, typ string
		for _, f := range strings.Split(v, ",") {
			k, val, ok := strings.Cut(f, "=")
			if !ok {
				return nil, usageError{fmt.Errorf("invalid --secret %q: field %q must be a key=value pair", v, f)}
			}
			switch strings.ToLower(k) {
			case "id":
				id = val
			case "src", "source":
				src = val
			case "env":
				env = val
			case "type":
				typ = val
			default:
				return nil, usageError{fmt.Errorf("invalid --secret %q: unexpected key %q", v, k)}
			}
		}
		if id == "" {
			return nil, usageError{fmt.Errorf("invalid --secret %q: id is required", v)}
		}
		if typ != "" && typ != "file" && typ != "env" {
			return nil, usageError{fmt.Errorf("invalid --secret %q: type must be file or env", v)}
		}
		if src != "" && env != "" {
			return nil, usageError{fmt.Errorf("invalid --secret %q: src and env are exclusive", v)}
		}
		if typ == "env" && env == "" {
			env, src = src, ""
			if env == "" {
				env = id
			}
		}
		if src == "" && env == "" {
			if _, ok := os.LookupEnv(id); ok || typ == "env" {
				env = id
			} else {
				src = id
			}
		}
		if env != "" {
			if val, ok := os.LookupEnv(env); ok {
				out[id] = []byte(val)
			}
			continue
		}
		b, err := os.ReadFile(src)
		if err != nil {
			return nil, fmt.Errorf("--secret id=%s: %w", id, err)
		}
		out[id] = b
	}
	return out, nil
}

// checkNetwork validates --network.
func checkNetwork(mode string) error {
	switch mode {
	case "default", "none", "host":
		return nil
	}
	return usageError{fmt.Errorf("invalid --network %q: must be default, none or host", mode)}
}

// splitStages splits --no-cache-filter values at commas.
func splitStages(vals []string) ([]string, error) {
	var out []string
	for _, v := range vals {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name == "" {
				return nil, usageError{fmt.Errorf("invalid --no-cache-filter %q: empty stage name", v)}
			}
			out = append(out, name)
		}
	}
	return out, nil
}

// keyValues parses K=V flags; with fromEnv, a bare K takes its value from
// the environment (and is skipped when unset), as docker does.
func keyValues(kvs []string, flag string, fromEnv bool) (map[string]string, error) {
	m := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if k == "" {
			return nil, usageError{fmt.Errorf("invalid %s %q: expected KEY=VALUE", flag, kv)}
		}
		if !ok {
			if !fromEnv {
				m[k] = ""
				continue
			}
			if v, ok = os.LookupEnv(k); !ok {
				continue
			}
		}
		m[k] = v
	}
	return m, nil
}

// printFailure prints err as the last line of stderr, after the tail of a
// failed step's output.
func printFailure(err error) {
	var ee *ops.ExecError
	if errors.As(err, &ee) && len(ee.Tail) > 0 {
		fmt.Fprintf(os.Stderr, "------\n")
		for _, l := range ee.Tail {
			fmt.Fprintf(os.Stderr, " > %s\n", l)
		}
		fmt.Fprintf(os.Stderr, "------\n")
	}
	var pe *parser.Error
	if errors.As(err, &pe) {
		for _, l := range pe.Excerpt() {
			fmt.Fprintln(os.Stderr, l)
		}
	}
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	fmt.Fprintf(os.Stderr, "ERROR: %s\n", msg)
}
