package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/xbuild/xbuild/content"
	"github.com/xbuild/xbuild/layer"
)

func TestPullRefusesSchema1(t *testing.T) {
	host := startRegistry(t, nil)
	putManifest(t, host, "old", "1", "application/vnd.docker.distribution.manifest.v1+json",
		[]byte(`{"schemaVersion":1,"name":"old","tag":"1","architecture":"amd64","fsLayers":[],"history":[]}`))
	_, err := newClient(nil).Pull(context.Background(), host+"/old:1", newStore(t))
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "schema1") {
		t.Fatalf("schema1 pull: %v", err)
	}
}

// badBlob serves blob target of the wrapped registry through corrupt.
func badBlob(target digest.Digest, corrupt func(w http.ResponseWriter, r *http.Request, body []byte)) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/blobs/"+target.String()) {
				h.ServeHTTP(w, r)
				return
			}
			rr := httptest.NewRecorder()
			h.ServeHTTP(rr, r)
			corrupt(w, r, rr.Body.Bytes())
		})
	}
}

func TestPullBadBlobStoresNothing(t *testing.T) {
	wrongBytes := func(w http.ResponseWriter, _ *http.Request, body []byte) {
		bad := bytes.Clone(body)
		bad[len(bad)/2] ^= 0xff
		w.Header().Set("Content-Length", fmt.Sprint(len(bad)))
		w.Write(bad)
	}
	cutMidway := func(w http.ResponseWriter, _ *http.Request, body []byte) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		defer conn.Close()
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", len(body))
		buf.Write(body[:len(body)/2])
		buf.Flush()
	}
	for name, corrupt := range map[string]func(http.ResponseWriter, *http.Request, []byte){"wrong-bytes": wrongBytes, "cut-midway": cutMidway} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			src := newStore(t)
			good := writeLayer(t, src, layer.Gzip, map[string][]byte{"good": randomBytes(200<<10, 6)})
			bad := writeLayer(t, src, layer.Gzip, map[string][]byte{"bad": randomBytes(300<<10, 7)})
			img := writeImage(t, src, "amd64", good, bad)
			host := startRegistry(t, badBlob(bad.Descriptor.Digest, corrupt))
			if _, err := newClient(nil).Push(ctx, host+"/app:1", src, img.Descriptor); err != nil {
				t.Fatal(err)
			}
			root := t.TempDir()
			dst, err := content.NewStore(root)
			if err != nil {
				t.Fatal(err)
			}
			_, err = newClient(nil).Pull(ctx, host+"/app:1", dst)
			if err == nil {
				t.Fatal("pull of a bad blob succeeded")
			}
			t.Log(err)
			url := "http://" + host + "/v2/app/blobs/" + bad.Descriptor.Digest.String()
			if !strings.Contains(err.Error(), "blob "+bad.Descriptor.Digest.String()) || !strings.Contains(err.Error(), url) {
				t.Errorf("error does not name the blob and its URL %s: %v", url, err)
			}
			notStored(t, dst, root, bad.Descriptor.Digest, img.Descriptor.Digest)
		})
	}
}

func TestPullErrors(t *testing.T) {
	ctx := context.Background()
	host := startRegistry(t, nil)
	_, err := newClient(nil).Pull(ctx, host+"/nothing:here", newStore(t))
	t.Log(err)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "http://"+host+"/v2/nothing/manifests/here") {
		t.Errorf("unknown image: %v", err)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	_, err = newClient(nil).Pull(ctx, closed+"/app:1", newStore(t))
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "http://"+closed+"/v2/") {
		t.Errorf("unreachable registry: %v", err)
	}

	if _, err := newClient(nil).Pull(ctx, "UPPER/case", newStore(t)); err == nil || !strings.Contains(err.Error(), "invalid reference format") {
		t.Errorf("bad reference: %v", err)
	}
	if _, err := New(Options{Keychain: 42}).Pull(ctx, host+"/app:1", newStore(t)); err == nil || !strings.Contains(err.Error(), "Keychain") {
		t.Errorf("bad keychain: %v", err)
	}
}

func TestPullCanceledMidBlob(t *testing.T) {
	src := newStore(t)
	big := writeLayer(t, src, layer.Gzip, map[string][]byte{"big": randomBytes(1<<20, 10)})
	img := writeImage(t, src, "amd64", big)
	started := make(chan struct{})
	var once sync.Once
	host := startRegistry(t, badBlob(big.Descriptor.Digest, func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.Write(body[:len(body)/2])
		http.NewResponseController(w).Flush()
		once.Do(func() { close(started) })
		<-r.Context().Done() // the client went away
	}))
	if _, err := newClient(nil).Push(context.Background(), host+"/app:1", src, img.Descriptor); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	root := t.TempDir()
	dst, err := content.NewStore(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newClient(nil).Pull(ctx, host+"/app:1", dst); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled pull: %v", err)
	}
	notStored(t, dst, root, big.Descriptor.Digest, img.Descriptor.Digest)
}
