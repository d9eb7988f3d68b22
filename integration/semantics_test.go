package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/xbuild/xbuild/internal/testutil"
)

// Dockerfile semantics that must match BuildKit to the letter.

func TestArgsInheritedFromStage(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "arg-from-stage")
	checkFile(t, img, "/x.txt", "[1]\n", 0o644, 0, 0)
	checkHistory(t, img, baseHistory,
		meta("ARG X=1"),
		layer(`RUN |1 X=1 /bin/sh -c echo "[$X]" > /x.txt # buildkit`),
	)
}

func TestPredefinedArgsKeepValues(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "arg-predefined")
	checkFile(t, img, "/t.txt", runtime.GOARCH+" final\n", 0o644, 0, 0)
}

func TestDockerignoreNotInCacheKey(t *testing.T) {
	t.Parallel()
	r := isolatedRoot(t)
	dir := prepareCase(t, "dockerignore-cache")
	id1, res := r.Build(t, dir, "-t", "xbuild-test/dockerignore-cache")
	if res.Code != 0 {
		t.Fatalf("first build failed:\n%s", res)
	}
	must(t, os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte("*.log\nunrelated-pattern\n"), 0o644))
	id2, res := r.Build(t, dir, "-t", "xbuild-test/dockerignore-cache")
	if res.Code != 0 {
		t.Fatalf("rebuild failed:\n%s", res)
	}
	p := ParseProgress(res.Stderr)
	for _, s := range []string{"COPY kept.txt", "RUN cat /kept.txt"} {
		if st := p.Step(t, s); !st.Cached {
			t.Errorf("after adding an unrelated .dockerignore pattern, %q is not CACHED", s)
		}
	}
	checkOutputs(t, "rebuild", p, nil, []string{"ran-after-copy"})
	equal(t, "image ID after adding an unrelated .dockerignore pattern", id2, id1)
}

func TestProxyBuildArgs(t *testing.T) {
	t.Parallel()
	r := isolatedRoot(t)
	dir := prepareCase(t, "proxy-args")
	id1, res := r.Build(t, dir, "-t", "xbuild-test/proxy-args", "--build-arg", "http_proxy=http://proxy:3128")
	if res.Code != 0 {
		t.Fatalf("build failed:\n%s", res)
	}
	if strings.Contains(res.Stderr, "not consumed") {
		t.Errorf("the proxy build arg is reported as unused:\n%s", res.Stderr)
	}
	img := testutil.ReadImage(t, r, "xbuild-test/proxy-args")
	checkFile(t, img, "/p", "http://proxy:3128|http://proxy:3128|\n", 0o644, 0, 0)
	checkHistory(t, img, baseHistory,
		layer(`RUN /bin/sh -c echo "$http_proxy|$HTTP_PROXY|$no_proxy" > /p && echo ran-proxy # buildkit`))
	equal(t, "Config.Env", img.Config.Config.Env, []string{defaultPath})
	raw, err := os.ReadFile(testutil.BlobPath(r.Dir, img.Manifest.Config.Digest))
	must(t, err)
	if strings.Contains(string(raw), "proxy:3128") {
		t.Errorf("the image config holds the proxy:\n%s", raw)
	}

	id2, res := r.Build(t, dir, "-t", "xbuild-test/proxy-args", "--build-arg", "http_proxy=http://other:8080")
	if res.Code != 0 {
		t.Fatalf("rebuild failed:\n%s", res)
	}
	if st := ParseProgress(res.Stderr).Step(t, "RUN echo"); !st.Cached {
		t.Errorf("changing the proxy re-ran the RUN")
	}
	equal(t, "image ID with another proxy", id2, id1)
}

func TestFromOwnNameIsImage(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	// The base, its own image (the shared base image keeps its one name).
	baseDir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(baseDir, "Dockerfile"), []byte("FROM "+testutil.BaseImage+"\nLABEL xbuild.test=sembase\n"), 0o644))
	r.MustBuild(t, baseDir, "-t", "xbuild-test-sembase")
	img, _ := buildCase(t, r, "from-same-name")
	checkFile(t, img, "/own.txt", "own-name\n", 0o644, 0, 0)
	checkHistory(t, img, baseHistory,
		meta("LABEL xbuild.test=sembase"),
		layer("RUN /bin/sh -c echo own-name > /own.txt # buildkit"))
}

func TestHistoryTimes(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "history-times")
	h := img.Config.History
	if len(h) != baseHistory+5 {
		t.Fatalf("%d history entries, want %d:\n%s", len(h), baseHistory+5, formatHistory(h))
	}
	env, run1, label, run2, user := h[baseHistory], h[baseHistory+1], h[baseHistory+2], h[baseHistory+3], h[baseHistory+4]
	if run1.Created == "" || run2.Created == "" || run1.Created == run2.Created {
		t.Fatalf("the RUNs are dated %q and %q, want two layer times", run1.Created, run2.Created)
	}
	equal(t, "time of ENV (before the first new layer)", env.Created, run1.Created)
	equal(t, "time of LABEL (after the first RUN)", label.Created, run1.Created)
	equal(t, "time of USER (after the second RUN)", user.Created, run2.Created)
	equal(t, "image created", img.Config.Created, run2.Created)

	// A cached rebuild keeps every time, so the image ID.
	again, _ := buildCase(t, r, "history-times")
	equal(t, "image ID of a cached rebuild", again.Info.ID, img.Info.ID)
}

func TestHistoryTimesWithoutLayers(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "history-times-meta")
	equal(t, "image created", img.Config.Created, "")
	for i, e := range img.Config.History {
		if e.Created != "" {
			t.Errorf("history[%d] (%s) is dated %s, but nothing made a layer", i, e.CreatedBy, e.Created)
		}
	}
	var cfg struct {
		Config map[string]json.RawMessage `json:"config"`
	}
	raw, err := os.ReadFile(testutil.BlobPath(r.Dir, img.Manifest.Config.Digest))
	must(t, err)
	must(t, json.Unmarshal(raw, &cfg))
	equal(t, "config.ArgsEscaped after CMD", string(cfg.Config["ArgsEscaped"]), "true")
}

// hostInterfaces counts the network interfaces of the test's own network
// namespace, as the Dockerfile's RUNs count theirs.
func hostInterfaces(t *testing.T) int {
	data, err := os.ReadFile("/proc/net/dev")
	must(t, err)
	return strings.Count(string(data), ":")
}

func TestNetworkFlag(t *testing.T) {
	t.Parallel()
	r := isolatedRoot(t)
	dir := prepareCase(t, "network-nocache")
	host := strconv.Itoa(hostInterfaces(t)) + "\n"

	img, _ := build(t, r, dir, "xbuild-test/network-none", "--network", "none")
	checkFile(t, img, "/ifaces", "1\n", 0o644, 0, 0)
	checkFile(t, img, "/ifaces-default", "1\n", 0o644, 0, 0)
	checkFile(t, img, "/ifaces-host", host, 0o644, 0, 0)

	img, _ = build(t, r, dir, "xbuild-test/network-default", "--network", "default")
	if host != "1\n" {
		checkFile(t, img, "/ifaces", host, 0o644, 0, 0)
	}

	for _, bad := range [][]string{{"--network", "bridge"}, {"--no-cache-filter", ""}, {"--no-cache-filter", "a,,b"}} {
		if _, res := r.Build(t, dir, bad...); res.Code != 2 {
			t.Errorf("build %q: exit code %d, want 2 (bad usage)\n%s", bad, res.Code, res)
		}
	}
}

func TestNoCacheFilter(t *testing.T) {
	t.Parallel()
	r := isolatedRoot(t)
	dir := prepareCase(t, "network-nocache")
	build(t, r, dir, "xbuild-test/no-cache-filter")
	_, p := build(t, r, dir, "xbuild-test/no-cache-filter", "--no-cache-filter", "nosuch,BUILD")
	// The steps of build run again, and so do the steps that read them;
	// other's and what reads only other's stay cached.
	for _, s := range p.Steps {
		if s.IsFrom() {
			continue
		}
		wantCached := s.Stage == "other" || strings.Contains(s.Instr, "--from=other")
		if s.Cached != wantCached {
			t.Errorf("--no-cache-filter build: step [%s] %s cached=%v, want %v", s.Prefix(), s.Instr, s.Cached, wantCached)
		}
	}
	checkOutputs(t, "--no-cache-filter build", p, []string{"ran-build", "ran-final"}, []string{"ran-other"})
	_, p = build(t, r, dir, "xbuild-test/no-cache-filter")
	checkAllCached(t, "a rebuild without --no-cache-filter", p)
}

func TestStepNamesAndValidation(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, p := buildCase(t, r, "step-names")
	checkFile(t, img, "/opt/app/p.txt", "/opt\n", 0o644, 0, 0)
	equal(t, "WORKDIR step", p.Step(t, "WORKDIR").Instr, "WORKDIR /opt/app")
	equal(t, "WORKDIR step prefix", p.Step(t, "WORKDIR").Prefix(), "2/3")
	equal(t, "RUN step", p.Step(t, "RUN").Instr, `RUN echo "/opt" > p.txt`)
	checkHistory(t, img, baseHistory,
		meta("ENV P=/opt"),
		layer("WORKDIR /opt/app"),
		layer(`RUN /bin/sh -c echo "$P" > p.txt # buildkit`),
	)

	for _, c := range []struct{ name, line, want string }{
		{"bad-stopsignal", "STOPSIGNAL SIGNOPE", "invalid signal: SIGNOPE"},
		{"bad-chmod-range", "COPY --chmod=17777 f.txt /f.txt", "invalid chmod parameter: '17777'. it should be octal string and between 0 and 07777"},
	} {
		dir := prepareCase(t, c.name)
		_, res := r.Build(t, dir, "-t", "xbuild-test/"+c.name)
		checkBuildFails(t, res, lineOf(t, filepath.Join(dir, "Dockerfile"), c.line), c.want)
	}
}

func TestCopyChownPrimaryGroup(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "copy-chown-primary")
	checkFile(t, img, "/by-name.txt", "f\n", 0o644, 2000, 50)
	checkFile(t, img, "/by-uid.txt", "f\n", 0o644, 2000, 2000)
	checkFile(t, img, "/by-name-group.txt", "f\n", 0o644, 2000, 1000)
}
