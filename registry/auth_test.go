package registry

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/xbuild/xbuild/layer"
)

const (
	testUser     = "builder"
	testPassword = "s3cret-Pa55word"
	testToken    = "tok-7f3a9c"
)

func unauthorized(w http.ResponseWriter, challenge string) {
	w.Header().Set("WWW-Authenticate", challenge)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
}

// basicAuth requires testUser:testPassword on every request.
func basicAuth(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != testUser || p != testPassword {
			unauthorized(w, `Basic realm="xbuild-test"`)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// bearerAuth is the Docker token flow: /token trades testUser:testPassword
// for testToken, which every /v2/ request must carry.
type bearerAuth struct {
	inner  http.Handler
	issued atomic.Int32
}

func (b *bearerAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/token" {
		if u, p, ok := r.BasicAuth(); !ok || u != testUser || p != testPassword {
			unauthorized(w, `Basic realm="token"`)
			return
		}
		if r.URL.Query().Get("service") != "xbuild-test" || !strings.Contains(r.URL.Query().Get("scope"), "repository:") {
			http.Error(w, "bad token request "+r.URL.RawQuery, http.StatusBadRequest)
			return
		}
		b.issued.Add(1)
		json.NewEncoder(w).Encode(map[string]string{"token": testToken})
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+testToken {
		unauthorized(w, `Bearer realm="http://`+r.Host+`/token",service="xbuild-test"`)
		return
	}
	b.inner.ServeHTTP(w, r)
}

// dockerConfig points DOCKER_CONFIG at a config.json with auths (nil: no
// config at all) and isolates the test from the user's own files.
func dockerConfig(t *testing.T, cfg map[string]any) {
	t.Helper()
	home, dir := t.TempDir(), t.TempDir()
	for _, k := range []string{"XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "REGISTRY_AUTH_FILE"} {
		t.Setenv(k, filepath.Join(home, "none"))
	}
	t.Setenv("HOME", home)
	t.Setenv("DOCKER_CONFIG", dir)
	if cfg == nil {
		return
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func auths(host, user, pass string) map[string]any {
	return map[string]any{"auths": map[string]any{host: map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))}}}
}

// credHelper installs docker-credential-xbtest on PATH, answering with the
// test credentials for any host.
func credHelper(t *testing.T) {
	t.Helper()
	bin := t.TempDir()
	script := "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread host\nprintf '{\"ServerURL\":\"%s\",\"Username\":\"" + testUser + "\",\"Secret\":\"" + testPassword + "\"}' \"$host\"\n"
	if err := os.WriteFile(filepath.Join(bin, "docker-credential-xbtest"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
}

func TestAuth(t *testing.T) {
	for name, wrap := range map[string]func(http.Handler) http.Handler{
		"basic":  basicAuth,
		"bearer": func(h http.Handler) http.Handler { return &bearerAuth{inner: h} },
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			host := startRegistry(t, wrap)
			src := newStore(t)
			img := writeImage(t, src, "amd64", writeLayer(t, src, layer.Gzip, map[string][]byte{"f": []byte("x")}))
			ref := host + "/private/app:1"

			dockerConfig(t, auths(host, testUser, testPassword))
			if _, err := New(Options{}).Push(ctx, ref, src, img.Descriptor); err != nil {
				t.Fatalf("push with config.json auths: %v", err)
			}
			if _, err := New(Options{}).Pull(ctx, ref, newStore(t)); err != nil {
				t.Fatalf("pull with config.json auths: %v", err)
			}

			dockerConfig(t, map[string]any{"credHelpers": map[string]string{host: "xbtest"}})
			credHelper(t)
			if _, err := New(Options{}).Pull(ctx, ref, newStore(t)); err != nil {
				t.Fatalf("pull with a credential helper: %v", err)
			}

			for what, cfg := range map[string]map[string]any{
				"no config":      nil,
				"wrong password": auths(host, testUser, "wrong-"+testPassword),
			} {
				dockerConfig(t, cfg)
				_, err := New(Options{}).Pull(ctx, ref, newStore(t))
				if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "unauthorized") {
					t.Errorf("%s: pull error is not unauthorized: %v", what, err)
					continue
				}
				if strings.Contains(err.Error(), testPassword) || strings.Contains(err.Error(), testToken) {
					t.Errorf("%s: error leaks a secret: %v", what, err)
				}
				t.Logf("%s: %v", what, err)
			}
		})
	}
}

func TestCredentialsFunc(t *testing.T) {
	ctx := context.Background()
	host := startRegistry(t, basicAuth)
	src := newStore(t)
	img := writeImage(t, src, "amd64")
	var mu sync.Mutex
	var asked []string
	creds := CredentialsFunc(func(h string) (string, string, error) {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, h)
		return testUser, testPassword, nil
	})
	cl := New(Options{Keychain: creds})
	if _, err := cl.Push(ctx, host+"/app:1", src, img.Descriptor); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Pull(ctx, host+"/app:1", newStore(t)); err != nil {
		t.Fatal(err)
	}
	if len(asked) == 0 || asked[0] != host {
		t.Errorf("credentials asked for %q, want %s", asked, host)
	}
}
