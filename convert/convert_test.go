package convert

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"

	"github.com/xbuild/xbuild/image"
	"github.com/xbuild/xbuild/llb"
	"github.com/xbuild/xbuild/parser"
)

// fakeImages is an ImageSource of made-up images by name.
type fakeImages map[string]dockerspec.DockerOCIImage

func (f fakeImages) Get(ctx context.Context, name string) (*image.Image, error) {
	cfg, ok := f[name]
	if !ok {
		return nil, fmt.Errorf("%s: %w", name, image.ErrNotFound)
	}
	sum := sha256.Sum256([]byte(name))
	img := &image.Image{Config: cfg}
	img.Descriptor.Digest = digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(sum[:]))
	return img, nil
}

// baseImages has "img", an image with the default PATH.
func baseImages() fakeImages {
	var cfg dockerspec.DockerOCIImage
	cfg.OS, cfg.Architecture = "linux", runtime.GOARCH
	cfg.Config.Env = []string{"PATH=" + DefaultPath}
	return fakeImages{"img": cfg}
}

func convertDF(t *testing.T, dockerfile string, opt Options) (*Result, error) {
	t.Helper()
	df, err := parser.Parse("Dockerfile", []byte(dockerfile))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	opt.Dockerfile = df
	if opt.Images == nil {
		opt.Images = baseImages()
	}
	return Convert(context.Background(), opt)
}

func mustConvert(t *testing.T, dockerfile string, opt Options) *Result {
	t.Helper()
	res, err := convertDF(t, dockerfile, opt)
	if err != nil {
		t.Fatalf("convert: %v", err)
	}
	return res
}

// vertices lists the graph of v, inputs before the vertices that read them.
func vertices(v *llb.Vertex) []*llb.Vertex {
	var out []*llb.Vertex
	seen := map[digest.Digest]bool{}
	var walk func(v *llb.Vertex)
	walk = func(v *llb.Vertex) {
		if seen[v.Digest()] {
			return
		}
		seen[v.Digest()] = true
		for _, in := range v.Inputs() {
			walk(in)
		}
		out = append(out, v)
	}
	walk(v)
	return out
}

// execs returns the RUN ops of the graph in order.
func execs(res *Result) []llb.ExecOp {
	var out []llb.ExecOp
	for _, v := range vertices(res.Vertex) {
		if op, ok := v.Op().(llb.ExecOp); ok {
			out = append(out, op)
		}
	}
	return out
}

// names returns the progress names of the graph's named vertices.
func names(res *Result) []string {
	var out []string
	for _, v := range vertices(res.Vertex) {
		if n := v.Meta().Name; n != "" && !v.Meta().Internal {
			out = append(out, n)
		}
	}
	return out
}

func lastHistory(res *Result) string {
	h := res.Image.History
	return h[len(h)-1].CreatedBy
}

func envValue(env []string, k string) (string, bool) {
	for _, kv := range env {
		if key, v, _ := strings.Cut(kv, "="); key == k {
			return v, true
		}
	}
	return "", false
}

func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

func TestArgsInheritedFromStage(t *testing.T) {
	res := mustConvert(t, "FROM img AS base\nARG X=1\nFROM base\nRUN echo \"[$X]\"\n", Options{})
	equal(t, "history of the RUN", lastHistory(res), `RUN |1 X=1 /bin/sh -c echo "[$X]" # buildkit`)
	ex := execs(res)
	v, _ := envValue(ex[len(ex)-1].Env, "X")
	equal(t, "X in the RUN's env", v, "1")
	if _, ok := envValue(res.Image.Config.Env, "X"); ok {
		t.Errorf("ARG X leaked into the config Env %q", res.Image.Config.Env)
	}
}

func TestPredefinedMetaArgs(t *testing.T) {
	const df = "ARG TARGETARCH\nARG TARGETOS=${TARGETOS}-x\nFROM img AS final\nARG TARGETARCH\nARG TARGETOS\nARG TARGETSTAGE\nARG BUILDPLATFORM\nRUN true\n"
	env := execs(mustConvert(t, df, Options{}))[0].Env
	want := map[string]string{
		"TARGETARCH": runtime.GOARCH, "TARGETOS": runtime.GOOS + "-x", "TARGETSTAGE": "final",
		"BUILDPLATFORM": runtime.GOOS + "/" + runtime.GOARCH,
	}
	for k, w := range want {
		got, _ := envValue(env, k)
		equal(t, k, got, w)
	}

	env = execs(mustConvert(t, strings.Replace(df, " AS final", "", 1), Options{BuildArgs: map[string]string{"TARGETARCH": "riscv64"}}))[0].Env
	got, _ := envValue(env, "TARGETSTAGE")
	equal(t, "TARGETSTAGE of an unnamed last stage", got, "default")
	got, _ = envValue(env, "TARGETARCH")
	equal(t, "TARGETARCH from --build-arg", got, "riscv64")

	res := mustConvert(t, "FROM img AS one\nARG TARGETSTAGE\nRUN true\nFROM img AS two\n", Options{Target: "one"})
	got, _ = envValue(execs(res)[0].Env, "TARGETSTAGE")
	equal(t, "TARGETSTAGE with --target", got, "one")
}

func TestProxyBuildArgs(t *testing.T) {
	const df = "FROM img\nRUN echo \"$http_proxy\" > /p\n"
	plain := mustConvert(t, df, Options{})
	res := mustConvert(t, df, Options{BuildArgs: map[string]string{"http_proxy": "http://proxy:3128", "NO_PROXY": "local"}})
	ex := execs(res)[0]
	equal(t, "ProxyEnv", ex.ProxyEnv, []string{"HTTP_PROXY=http://proxy:3128", "http_proxy=http://proxy:3128", "NO_PROXY=local", "no_proxy=local"})
	equal(t, "Env", ex.Env, execs(plain)[0].Env)
	equal(t, "digest", res.Vertex.Digest(), plain.Vertex.Digest())
	equal(t, "history", lastHistory(res), lastHistory(plain))
	equal(t, "config Env", res.Image.Config.Env, plain.Image.Config.Env)
	equal(t, "warnings", res.Warnings, []string(nil))

	other := mustConvert(t, df, Options{BuildArgs: map[string]string{"HTTP_PROXY": "http://other:1"}})
	equal(t, "digest with another proxy", other.Vertex.Digest(), plain.Vertex.Digest())
}

func TestFromOwnNameIsAnImage(t *testing.T) {
	imgs := baseImages()
	imgs["sembase"] = imgs["img"]
	imgs["later"] = imgs["img"]
	res := mustConvert(t, "FROM sembase AS sembase\nRUN true\n", Options{Images: imgs})
	src, ok := vertices(res.Vertex)[0].Op().(llb.ImageOp)
	if !ok || src.Ref != "docker.io/library/sembase:latest" {
		t.Errorf("FROM sembase AS sembase: base op %#v, want the image sembase", vertices(res.Vertex)[0].Op())
	}
	res = mustConvert(t, "FROM later AS first\nRUN true\nFROM img AS later\nRUN false\n", Options{Images: imgs, Target: "first"})
	src, ok = vertices(res.Vertex)[0].Op().(llb.ImageOp)
	if !ok || src.Ref != "docker.io/library/later:latest" {
		t.Errorf("FROM later (a later stage's name): base op %#v, want the image later", vertices(res.Vertex)[0].Op())
	}
	// An earlier stage of the name is still the stage.
	res = mustConvert(t, "FROM img AS x\nRUN echo one\nFROM x AS x\nRUN echo two\n", Options{Images: imgs})
	equal(t, "RUNs of FROM an earlier x", len(execs(res)), 2)
}

func TestStepNamesExpandVariables(t *testing.T) {
	const df = "FROM img\nENV P=/opt\nARG A=arg\nworkdir $P/app\nRUN echo \"$P\" '$A' $UNSET \\$P\nCOPY $P/x \"/y-$A\"\n"
	equal(t, "step names", names(mustConvert(t, df, Options{})), []string{
		"[1/4] FROM docker.io/library/img:latest",
		"[2/4] WORKDIR /opt/app",
		`[3/4] RUN echo "/opt" '$A' $UNSET \$P`,
		"[4/4] COPY /opt/x /y-arg",
	})
}

func TestChmodRange(t *testing.T) {
	for _, mode := range []string{"17777", "999", "777777777777"} {
		_, err := convertDF(t, "FROM img\nCOPY --chmod="+mode+" a /a\n", Options{})
		want := "invalid chmod parameter: '" + mode + "'. it should be octal string and between 0 and 07777"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--chmod=%s: error %v, want %q", mode, err, want)
		}
	}
	for _, mode := range []string{"7777", "0644", "0"} {
		if _, err := convertDF(t, "FROM img\nCOPY --chmod="+mode+" a /a\n", Options{}); err != nil {
			t.Errorf("--chmod=%s: %v", mode, err)
		}
	}
}

func TestStopSignal(t *testing.T) {
	for _, sig := range []string{"SIGTERM", "TERM", "sigkill", "9", "SIGRTMIN+3", "RTMAX"} {
		res, err := convertDF(t, "FROM img\nSTOPSIGNAL "+sig+"\n", Options{})
		if err != nil {
			t.Errorf("STOPSIGNAL %s: %v", sig, err)
			continue
		}
		equal(t, "StopSignal", res.Image.Config.StopSignal, sig)
	}
	for _, sig := range []string{"SIGFOO", "0", "TERM2"} {
		_, err := convertDF(t, "FROM img\nSTOPSIGNAL "+sig+"\n", Options{})
		if want := "invalid signal: " + sig; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("STOPSIGNAL %s: error %v, want %q", sig, err, want)
		}
	}
}

func TestBaseWithoutPathGetsDefaultPath(t *testing.T) {
	imgs := baseImages()
	nopath := imgs["img"]
	nopath.Config.Env = []string{"A=1"}
	imgs["nopath"] = nopath
	res := mustConvert(t, "FROM nopath\nRUN true\n", Options{Images: imgs})
	equal(t, "config Env", res.Image.Config.Env, []string{"A=1", "PATH=" + DefaultPath})
	equal(t, "RUN Env", execs(res)[0].Env, []string{"A=1", "PATH=" + DefaultPath})
	res = mustConvert(t, "FROM img\nENV B=2\n", Options{Images: imgs})
	equal(t, "config Env of an image with PATH", res.Image.Config.Env, []string{"PATH=" + DefaultPath, "B=2"})
}

func TestOnbuildTriggersCountInStepTotal(t *testing.T) {
	imgs := baseImages()
	parent := imgs["img"]
	parent.Config.OnBuild = []string{"ENV A=1", "RUN echo trig"}
	imgs["parent"] = parent
	res := mustConvert(t, "FROM parent\nRUN true\n", Options{Images: imgs})
	equal(t, "step names", names(res), []string{
		"[1/4] FROM docker.io/library/parent:latest",
		"[2/4] ONBUILD RUN echo trig",
		"[3/4] RUN true",
	})
}

func TestNetworkAndNoCacheFilter(t *testing.T) {
	const df = "FROM img AS Build\nRUN a\nRUN --network=host b\nRUN --network=default c\nWORKDIR /w\n" +
		"FROM img AS other\nRUN e\n" +
		"FROM build\nCOPY --from=other /e /e\nRUN d\n"
	res := mustConvert(t, df, Options{Network: "none", NoCacheStages: []string{"nosuch", "BUILD"}})
	var nets []string
	for _, ex := range execs(res) {
		nets = append(nets, ex.Network)
	}
	equal(t, "network modes", nets, []string{"none", "host", "none", "none", "none"})
	// The steps of build skip the cache, and so do the steps that read
	// them (else a cached dependent keeps them from running); other's not.
	for _, v := range vertices(res.Vertex) {
		n := v.Meta().Name
		wantNoCache := n != "" && !strings.Contains(n, "FROM") && !strings.HasPrefix(n, "[other ")
		if v.Meta().NoCache != wantNoCache {
			t.Errorf("%q: NoCache %v, want %v", n, v.Meta().NoCache, wantNoCache)
		}
	}
	nets = nil
	for _, ex := range execs(mustConvert(t, df, Options{Network: "default"})) {
		nets = append(nets, ex.Network)
	}
	equal(t, "network modes with --network default", nets, []string{"", "host", "", "", ""})
	for _, v := range vertices(mustConvert(t, df, Options{}).Vertex) {
		if v.Meta().NoCache {
			t.Errorf("%q: NoCache without --no-cache-filter", v.Meta().Name)
		}
	}
	if _, err := convertDF(t, "FROM img\nRUN x\n", Options{Network: "bridge"}); err == nil || !strings.Contains(err.Error(), `unsupported network mode "bridge"`) {
		t.Errorf("network mode bridge: error %v", err)
	}
}

func TestCmdSetsArgsEscaped(t *testing.T) {
	res := mustConvert(t, "FROM img\nENTRYPOINT [\"a\"]\n", Options{})
	equal(t, "ArgsEscaped after ENTRYPOINT", res.Image.Config.ArgsEscaped, false) //nolint:staticcheck
	res = mustConvert(t, "FROM img\nCMD [\"a\"]\n", Options{})
	equal(t, "ArgsEscaped after CMD", res.Image.Config.ArgsEscaped, true) //nolint:staticcheck
}

func TestDockerignoreNotInDigest(t *testing.T) {
	const df = "FROM img\nCOPY a /a\n"
	a := mustConvert(t, df, Options{Excludes: []string{"*.log"}})
	b := mustConvert(t, df, Options{Excludes: []string{"*.log", "unrelated"}})
	equal(t, "digest", a.Vertex.Digest(), b.Vertex.Digest())
	if !slices.ContainsFunc(vertices(b.Vertex), func(v *llb.Vertex) bool {
		op, ok := v.Op().(llb.ContextOp)
		return ok && len(op.Excludes) == 2
	}) {
		t.Errorf("the context op lost its excludes")
	}
}
