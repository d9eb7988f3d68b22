package ops

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/xbuild/xbuild/buildcontext"
	"github.com/xbuild/xbuild/llb"
)

// urlSums returns, for every URL source without a checksum, the digest of
// its content, downloading it: the cache key then follows the content. A
// URL with a checksum is keyed on the checksum alone. The downloads are
// kept for Exec, so a cache miss does not fetch them again; Env.Cleanup
// removes what a cache hit left unused.
func (o *copyOp) urlSums(ctx context.Context) ([]digest.Digest, error) {
	var sums []digest.Digest
	o.sums, o.fetched = nil, nil
	for _, u := range o.op.URLs {
		if u.Checksum != "" {
			continue
		}
		dir, err := o.env.tempDir("http")
		if err != nil {
			return nil, err
		}
		file := filepath.Join(dir, "f")
		sum, err := download(ctx, u, file)
		if err != nil {
			return nil, err
		}
		o.sums = append(o.sums, sum)
		o.fetched = append(o.fetched, file)
		sums = append(sums, sum)
	}
	return sums, nil
}

// extraSources writes the heredoc files and downloads the URL sources into
// temp directories. cleanup removes them; it is never nil.
func (o *copyOp) extraSources(ctx context.Context) ([]extraSource, func(), error) {
	var dirs []string
	cleanup := func() {
		for _, d := range dirs {
			os.RemoveAll(d)
		}
	}
	var out []extraSource
	mk := func(prefix string) (*buildcontext.Dir, error) {
		d, err := o.env.Root.TempDir(prefix)
		if err != nil {
			return nil, err
		}
		dirs = append(dirs, d)
		return buildcontext.Open(d, nil)
	}
	j := 0
	for _, u := range o.op.URLs {
		d, err := mk("http")
		if err != nil {
			return nil, cleanup, err
		}
		name := path.Base("/" + u.Filename)
		if u.Checksum == "" && j < len(o.fetched) {
			// Fetched for the cache key: exactly the content the key names.
			if err := os.Rename(o.fetched[j], d.Path(name)); err != nil {
				return nil, cleanup, err
			}
			j++
		} else if _, err := download(ctx, u, d.Path(name)); err != nil {
			return nil, cleanup, err
		}
		out = append(out, extraSource{dir: d, names: []string{name}, unpack: o.op.UnpackURLs})
	}
	for i, g := range o.op.Git {
		commit := g.Ref
		if i < len(o.commits) {
			commit = o.commits[i]
		}
		e, err := o.cloneGit(ctx, g, commit, mk)
		if err != nil {
			return nil, cleanup, err
		}
		out = append(out, e)
	}
	if len(o.op.Inline) > 0 {
		d, err := mk("inline")
		if err != nil {
			return nil, cleanup, err
		}
		var names []string
		for _, f := range o.op.Inline {
			name := path.Base("/" + f.Name)
			if err := os.WriteFile(d.Path(name), []byte(f.Data), 0o644); err != nil {
				return nil, cleanup, err
			}
			if err := os.Chmod(d.Path(name), 0o644); err != nil {
				return nil, cleanup, err
			}
			names = append(names, name)
		}
		out = append(out, extraSource{dir: d, names: names})
	}
	return out, cleanup, nil
}

// download streams u into the new file dst (mode 0600, mtime from
// Last-Modified) and returns its digest, checked against u.Checksum.
func download(ctx context.Context, u llb.URLSource, dst string) (_ digest.Digest, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.URL, nil)
	if err != nil {
		return "", fmt.Errorf("download %s: %w", u.URL, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("download %s: %w", u.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", fmt.Errorf("download %s: invalid response status %d", u.URL, resp.StatusCode)
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	alg := digest.SHA256
	if u.Checksum != "" {
		alg = u.Checksum.Algorithm()
	}
	h := alg.Hash()
	if _, err := io.Copy(io.MultiWriter(f, h), resp.Body); err != nil {
		return "", fmt.Errorf("download %s: %w", u.URL, err)
	}
	got := digest.NewDigest(alg, h)
	if u.Checksum != "" && got != u.Checksum {
		return "", fmt.Errorf("checksum mismatch for %s: expected %s, got %s", u.URL, u.Checksum, got)
	}
	if err := f.Chmod(0o600); err != nil {
		return "", err
	}
	if lm, perr := http.ParseTime(resp.Header.Get("Last-Modified")); perr == nil {
		defer func() {
			if err == nil {
				err = os.Chtimes(dst, time.Now(), lm)
			}
		}()
	}
	return got, nil
}
