package testutil

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
)

// Registry is an in-process OCI registry on 127.0.0.1 for tests.
type Registry struct {
	Host string // "127.0.0.1:PORT"
	// BlobUploads counts blob upload sessions started (POST …/blobs/uploads/).
	BlobUploads atomic.Int64
}

// StartRegistry serves go-containerregistry's registry on a loopback port
// until the test ends.
func StartRegistry(t testing.TB) *Registry {
	t.Helper()
	r := &Registry{}
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodPost && strings.Contains(req.URL.Path, "/blobs/uploads/") && req.URL.Query().Get("mount") == "" {
			r.BlobUploads.Add(1)
		}
		inner.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.Host = strings.TrimPrefix(srv.URL, "http://")
	return r
}
