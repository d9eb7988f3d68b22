package ops

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/xbuild/xbuild/buildcontext"
	"github.com/xbuild/xbuild/llb"
)

var commitRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

// gitCommits resolves every git source's ref to a commit with `git
// ls-remote`, so the cache key follows the commit, as BuildKit's does.
func (o *copyOp) gitCommits(ctx context.Context) ([]digest.Digest, error) {
	o.commits = nil
	var out []digest.Digest
	for _, g := range o.op.Git {
		commit, err := resolveGitRef(ctx, g)
		if err != nil {
			return nil, err
		}
		o.commits = append(o.commits, commit)
		out = append(out, digest.FromString("git "+g.Remote+" "+commit))
	}
	return out, nil
}

func resolveGitRef(ctx context.Context, g llb.GitSource) (string, error) {
	if commitRE.MatchString(g.Ref) {
		return g.Ref, nil
	}
	ref := g.Ref
	if ref == "" {
		ref = "HEAD"
	}
	out, err := git(ctx, "", "ls-remote", "--", g.Remote, ref, "refs/tags/"+ref+"^{}")
	if err != nil {
		return "", err
	}
	var commit string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && (commit == "" || strings.HasSuffix(f[1], "^{}")) {
			commit = f[0] // a peeled tag wins over the tag object
		}
	}
	if commit == "" {
		return "", fmt.Errorf("git %s: ref %q not found", g.Remote, ref)
	}
	return commit, nil
}

// cloneGit checks out g at commit into a new temp dir and returns the
// source to copy: the tree (or its Subdir), without .git unless kept.
func (o *copyOp) cloneGit(ctx context.Context, g llb.GitSource, commit string, mk func(string) (*buildcontext.Dir, error)) (extraSource, error) {
	d, err := mk("git")
	if err != nil {
		return extraSource{}, err
	}
	repo := d.Root()
	if err := os.Chmod(repo, 0o755); err != nil { // a checkout's root is 0755
		return extraSource{}, err
	}
	steps := [][]string{
		{"init", "-q"},
		{"remote", "add", "origin", g.Remote},
		{"fetch", "-q", "--depth", "1", "origin", commit},
		{"checkout", "-q", "FETCH_HEAD"},
	}
	if !commitRE.MatchString(g.Ref) && g.Ref != "" {
		steps[2] = []string{"fetch", "-q", "--depth", "1", "origin", g.Ref}
	}
	for _, args := range steps {
		if _, err := git(ctx, repo, args...); err != nil {
			return extraSource{}, err
		}
	}
	head, err := git(ctx, repo, "rev-parse", "HEAD")
	if err != nil {
		return extraSource{}, err
	}
	if got := strings.TrimSpace(head); got != commit {
		return extraSource{}, fmt.Errorf("git %s: %s moved from %s to %s while the build ran; run the build again", g.Remote, g.Ref, commit, got)
	}
	if !g.KeepGitDir {
		if err := os.RemoveAll(filepath.Join(repo, ".git")); err != nil {
			return extraSource{}, err
		}
	}
	if _, err := d.Match(g.Subdir, false); err != nil {
		return extraSource{}, fmt.Errorf("git %s#%s: %w", g.Remote, g.Ref, err)
	}
	return extraSource{dir: d, tree: g.Subdir}, nil
}

// git runs git with no prompts and returns its output; errors carry its
// stderr.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1", "GIT_ASKPASS=true")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
