package registry

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/singleflight"

	"github.com/xbuild/xbuild/content"
	"github.com/xbuild/xbuild/image"
)

// Options configure a Client. The zero value is usable.
type Options struct {
	// Insecure lists registry hosts ("host:port", or "host" for any port)
	// reached over plain HTTP and without TLS verification. Loopback hosts
	// (127.0.0.0/8, ::1, localhost) always are.
	Insecure []string
	// Platform is picked from indexes; the zero value is linux/GOARCH. An
	// empty Variant matches any variant.
	Platform ocispec.Platform
	// Keychain supplies credentials. nil is the Docker default: auths,
	// credHelpers and credsStore of $DOCKER_CONFIG/config.json, else
	// ~/.docker/config.json. Otherwise it must be a go-containerregistry
	// authn.Keychain or a CredentialsFunc; anything else fails every call.
	Keychain any
	// Parallel is the number of concurrent blob transfers; 0 means 4.
	Parallel int
	// UserAgent is sent with every request, e.g. "xbuild/1.2.3".
	UserAgent string
	// Progress, when set, receives one-line events such as
	// "pulling sha256:… 12.3MB", "pulled sha256:…", "exists sha256:…",
	// "pushed sha256:…", "mounted sha256:… from REPO". Calls are serialized.
	Progress func(event string)
}

// CredentialsFunc is a Keychain form that needs no go-containerregistry
// import: it returns the username and password (or token) for a registry
// host such as "index.docker.io" or "127.0.0.1:5000"; two empty strings
// mean anonymous.
type CredentialsFunc func(host string) (username, secret string, err error)

// Errors callers can test for with errors.Is. Returned errors wrap them and
// also carry the registry's own message and the URL tried.
var (
	ErrNotFound     = errors.New("not found")    // unknown repository, tag, manifest or blob
	ErrUnauthorized = errors.New("unauthorized") // missing, wrong or insufficient credentials
)

// Blobs is what the client needs of the local blob store (content.Store
// implements all of it).
type Blobs interface {
	content.Ingester
	content.Provider
	content.Infoer
}

var _ Blobs = (*content.Store)(nil)

// Client talks to registries. It is safe for concurrent use; concurrent
// pulls of one blob through the same Client download it once.
type Client struct {
	opt       Options
	keychain  authn.Keychain
	keyErr    error
	transport http.RoundTripper
	flight    singleflight.Group
	progMu    sync.Mutex
	sources   sync.Map // digest.Digest → name.Repository it was pulled from
	schemes   sync.Map // registry host → scheme of its last good response
}

// New returns a Client with opt.
func New(opt Options) *Client {
	if opt.Parallel <= 0 {
		opt.Parallel = 4
	}
	if opt.Platform.OS == "" {
		opt.Platform.OS = "linux"
	}
	if opt.Platform.Architecture == "" {
		opt.Platform.Architecture = runtime.GOARCH
	}
	c := &Client{opt: opt}
	switch k := opt.Keychain.(type) {
	case nil:
		c.keychain = authn.DefaultKeychain
	case authn.Keychain:
		c.keychain = k
	case CredentialsFunc:
		c.keychain = funcKeychain(k)
	case func(string) (string, string, error):
		c.keychain = funcKeychain(k)
	default:
		c.keyErr = fmt.Errorf("registry: Options.Keychain is a %T, want an authn.Keychain or a CredentialsFunc", k)
	}
	tr, ok := remote.DefaultTransport.(*http.Transport)
	if !ok {
		tr = http.DefaultTransport.(*http.Transport)
	}
	base := tr.Clone()
	insecure := base.Clone()
	insecure.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // only for hosts the user marked insecure
	c.transport = &hostTransport{c: c, secure: base, insecure: insecure}
	return c
}

// funcKeychain adapts a CredentialsFunc to authn.Keychain.
type funcKeychain CredentialsFunc

func (f funcKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	user, secret, err := f(r.RegistryStr())
	if err != nil {
		return nil, fmt.Errorf("credentials for %s: %w", r.RegistryStr(), err)
	}
	if user == "" && secret == "" {
		return authn.Anonymous, nil
	}
	return authn.FromConfig(authn.AuthConfig{Username: user, Password: secret}), nil
}

// hostTransport skips TLS verification for insecure hosts only (redirects
// to other hosts, such as blob storage, stay verified) and remembers which
// scheme each registry answered on, to name the URL in errors.
type hostTransport struct {
	c                *Client
	secure, insecure http.RoundTripper
	observe          func(*http.Request, *http.Response)
}

func (t *hostTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rt := t.secure
	if t.c.isInsecure(req.URL.Host) {
		rt = t.insecure
	}
	resp, err := rt.RoundTrip(req)
	if err == nil {
		t.c.schemes.Store(req.URL.Host, req.URL.Scheme)
		if t.observe != nil {
			t.observe(req, resp)
		}
	}
	return resp, err
}

// withObserver returns a transport like c's that also calls observe with
// every response.
func (c *Client) withObserver(observe func(*http.Request, *http.Response)) http.RoundTripper {
	t := *c.transport.(*hostTransport)
	t.observe = observe
	return &t
}

// isInsecure reports whether host ("host:port") is loopback or listed in
// Options.Insecure.
func (c *Client) isInsecure(host string) bool {
	bare := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		bare = h
	}
	bare = strings.Trim(bare, "[]")
	for _, h := range c.opt.Insecure {
		h = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(h, "http://"), "https://"), "/")
		if h == host || h == bare {
			return true
		}
	}
	if bare == "localhost" || strings.HasSuffix(bare, ".localhost") {
		return true
	}
	ip := net.ParseIP(bare)
	return ip != nil && ip.IsLoopback()
}

// parseRef normalizes s as Docker does and maps it to a ggcr reference:
// a digest reference when s has a digest (a tag beside it is ignored, as
// Docker does), a tag reference otherwise.
func (c *Client) parseRef(s string) (name.Reference, error) {
	r, err := image.ParseReference(s)
	if err != nil {
		return nil, err
	}
	var opts []name.Option
	if c.isInsecure(r.Domain) {
		opts = append(opts, name.Insecure)
	}
	if r.Digest != "" {
		return name.NewDigest(r.Repository()+"@"+r.Digest, opts...)
	}
	return name.NewTag(r.Repository()+":"+r.Tag, opts...)
}

// remoteOptions are the ggcr options of one operation.
func (c *Client) remoteOptions(ctx context.Context, rt http.RoundTripper) []remote.Option {
	opts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithTransport(rt),
		remote.WithAuthFromKeychain(c.keychain),
		remote.WithJobs(c.opt.Parallel),
	}
	if c.opt.UserAgent != "" {
		opts = append(opts, remote.WithUserAgent(c.opt.UserAgent))
	}
	return opts
}

// url is the URL of path on ref's registry, with the scheme it answered on.
func (c *Client) url(repo name.Repository, kind, id string) string {
	scheme := "https"
	if v, ok := c.schemes.Load(repo.RegistryStr()); ok {
		scheme = v.(string)
	} else if repo.Scheme() == "http" {
		scheme = "http"
	}
	return fmt.Sprintf("%s://%s/v2/%s/%s/%s", scheme, repo.RegistryStr(), repo.RepositoryStr(), kind, id)
}

// classify wraps err with ErrUnauthorized or ErrNotFound when the registry
// said so. ggcr's errors name the method and URL but never credentials.
func classify(err error) error {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return err
	}
	switch {
	case terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden:
		return fmt.Errorf("%w: %w", ErrUnauthorized, err)
	case terr.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	for _, d := range terr.Errors {
		switch d.Code {
		case transport.UnauthorizedErrorCode, transport.DeniedErrorCode:
			return fmt.Errorf("%w: %w", ErrUnauthorized, err)
		case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode, transport.BlobUnknownErrorCode:
			return fmt.Errorf("%w: %w", ErrNotFound, err)
		}
	}
	return err
}

// event sends one progress line.
func (c *Client) event(format string, args ...any) {
	if c.opt.Progress == nil {
		return
	}
	c.progMu.Lock()
	defer c.progMu.Unlock()
	c.opt.Progress(fmt.Sprintf(format, args...))
}

// humanSize prints n bytes as Docker does (decimal units).
func humanSize(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fGB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1fMB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fkB", float64(n)/1e3)
	}
	return fmt.Sprintf("%dB", n)
}
