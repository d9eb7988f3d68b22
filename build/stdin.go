package build

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/xbuild/xbuild/layer"
)

// StdinContext reads the build context from r, as `docker build -` does: a
// tar archive (plain, gzip or zstd) is the context; anything else is a
// Dockerfile with an empty context. It returns the context directory and
// the Dockerfile path to build (dockerfile, relative to the context, when
// given), and a cleanup that removes both.
func StdinContext(ctx context.Context, sys *System, r io.Reader, dockerfile string) (string, string, func(), error) {
	tmp, err := sys.Root.TempDir("stdin-context")
	if err != nil {
		return "", "", nil, err
	}
	cleanup := func() { os.RemoveAll(tmp) }
	ctxDir := filepath.Join(tmp, "context")
	if err := os.Mkdir(ctxDir, 0o755); err != nil {
		cleanup()
		return "", "", nil, err
	}
	br := bufio.NewReaderSize(r, 1<<16)
	plain, err := layer.Decompress(br)
	if err != nil {
		cleanup()
		return "", "", nil, fmt.Errorf("read the context from standard input: %w", err)
	}
	defer plain.Close()
	pr := bufio.NewReaderSize(plain, 1<<16)
	head, _ := pr.Peek(512)
	if len(head) == 512 && bytes.Equal(head[257:262], []byte("ustar")) {
		if _, err := layer.Extract(ctx, ctxDir, pr, layer.ExtractOptions{}); err != nil {
			cleanup()
			return "", "", nil, fmt.Errorf("read the context from standard input: %w", err)
		}
		if dockerfile == "" {
			dockerfile = "Dockerfile"
		}
		if !filepath.IsAbs(dockerfile) {
			dockerfile = filepath.Join(ctxDir, dockerfile)
		}
		return ctxDir, dockerfile, cleanup, nil
	}
	if dockerfile != "" {
		cleanup()
		return "", "", nil, errors.New("standard input holds a Dockerfile, not a context archive: -f cannot be used with it")
	}
	df := filepath.Join(tmp, "Dockerfile")
	f, err := os.Create(df)
	if err == nil {
		_, err = io.Copy(f, pr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		cleanup()
		return "", "", nil, fmt.Errorf("read the Dockerfile from standard input: %w", err)
	}
	return ctxDir, df, cleanup, nil
}
