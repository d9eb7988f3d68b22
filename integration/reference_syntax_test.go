package integration

// Dockerfile reference cases (testdata/dockerfiles/ref-*): parser
// directives, line continuations, word expansion, ARG and metadata
// instructions, each checked against what BuildKit produces.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xbuild/xbuild/internal/testutil"
)

func TestReferenceEscapeBacktick(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "ref-escape-backtick")
	checkFile(t, img, "/escaped.txt", "one two\n", 0o644, 0, 0)
	equal(t, "Config.Env", img.Config.Config.Env, []string{defaultPath, `WINPATH=C:\dir\sub`})
	equal(t, "Config.Labels", img.Config.Config.Labels, map[string]string{"quoted": `a"b`})
}

func TestReferenceDirectivesSyntaxCheck(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "ref-directives-syntax-check")
	checkFile(t, img, "/directives.txt", "directives\n", 0o644, 0, 0)
	checkHistory(t, img, baseHistory, layer("RUN /bin/sh -c echo directives > /directives.txt # buildkit"))
}

func TestReferenceContinuationComments(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "ref-continuation-comments")
	checkFile(t, img, "/joined.txt", "a b c\n", 0o644, 0, 0)
	if h := img.Config.History; len(h) != baseHistory+1 {
		t.Errorf("%d history entries, want %d:\n%s", len(h), baseHistory+1, formatHistory(h))
	} else if by := h[baseHistory].CreatedBy; strings.Contains(by, "comment") || !strings.HasPrefix(by, "RUN /bin/sh -c echo a ") {
		t.Errorf("RUN created_by = %q: want the joined command without the comment line", by)
	}
}

// envMap turns Config.Env into a map.
func envMap(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func TestReferenceExpandModifiers(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "ref-expand-modifiers")
	env := envMap(img.Config.Config.Env)
	for k, want := range map[string]string{
		"DEF": "dflt", "EDEF": "dflt", "EDEF2": "", "ALT": "alt", "NALT": "",
		"PRE": "tar.gz", "LPRE": "gz", "SUF": "hello.tar", "LSUF": "hello",
		"SUB": "heLlo.tar.gz", "SUBALL": "heLLo.tar.gz",
	} {
		got, ok := env[k]
		if !ok {
			t.Errorf("Config.Env has no %s: %q", k, img.Config.Config.Env)
			continue
		}
		equal(t, "Env "+k, got, want)
	}
}

func TestReferenceExpandEscape(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "ref-expand-escape")
	equal(t, "Config.Env", img.Config.Config.Env, []string{defaultPath, "LIT=$V", "BRACED=${V}", "SQ=$V", "DQ=value"})
	equal(t, "Config.Labels", img.Config.Config.Labels, map[string]string{"lit": "$V"})
}

func TestReferenceExpandInstructions(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "ref-expand-instructions")
	c := img.Config.Config
	equal(t, "Config.WorkingDir", c.WorkingDir, "/srv/demo")
	equal(t, "Config.User", c.User, "1000:1000")
	equal(t, "Config.Labels", c.Labels, map[string]string{"app.demo": "demo-label"})
	equal(t, "Config.ExposedPorts", c.ExposedPorts, map[string]struct{}{"8080/tcp": {}})
	equal(t, "Config.Env", c.Env, []string{defaultPath, "APP=demo", "PORT=8080", "FULL=/srv/demo"})
	checkFile(t, img, "/srv/copied/f.txt", "content\n", 0o644, 0, 0)
	checkDir(t, img, "/srv/demo", 0o755, 0, 0)
}

func TestReferenceArgFromEnvironment(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	dir := prepareCase(t, "ref-arg-from-env")
	iid := filepath.Join(t.TempDir(), "iid")
	release := testutil.AcquireSlot()
	cmd := r.Command(t.Context(), "build", "--progress", "plain", "--iidfile", iid,
		"-t", "xbuild-test/ref-arg-from-env", "--build-arg", "K", dir)
	cmd.Env = append(os.Environ(), "K=from-environment")
	out, err := cmd.CombinedOutput()
	release()
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	img := testutil.ReadImage(t, r, "xbuild-test/ref-arg-from-env")
	checkFile(t, img, "/k.txt", "K=from-environment\n", 0o644, 0, 0)
	checkHistory(t, img, baseHistory,
		meta("ARG K=from-environment"),
		layer(`RUN |1 K=from-environment /bin/sh -c echo "K=$K" > /k.txt # buildkit`))
	equal(t, "Config.Env", img.Config.Config.Env, []string{defaultPath})
}

func TestReferenceArgTwoStages(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "ref-arg-two-stages")
	checkFile(t, img, "/one.txt", "one=global\n", 0o644, 0, 0)
	checkFile(t, img, "/two.txt", "two=stage-default\n", 0o644, 0, 0)
	img2, _ := build(t, r, prepareCase(t, "ref-arg-two-stages"), "xbuild-test/ref-arg-two-stages-override", "--build-arg", "X=cli")
	checkFile(t, img2, "/one.txt", "one=cli\n", 0o644, 0, 0)
	checkFile(t, img2, "/two.txt", "two=cli\n", 0o644, 0, 0)
}

func TestReferenceArgDefaultReference(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "ref-arg-default-ref")
	checkFile(t, img, "/b.txt", "one-two\n", 0o644, 0, 0)
	equal(t, "Config.Env", img.Config.Config.Env, []string{defaultPath})
	checkHistory(t, img, baseHistory,
		meta("ARG A=one"),
		meta("ARG B=one-two"),
		layer(`RUN |2 A=one B=one-two /bin/sh -c echo "$B" > /b.txt # buildkit`))
}

func TestReferenceArgUnusedWarning(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	dir := prepareCase(t, "ref-arg-unused")
	_, res := r.Build(t, dir, "-t", "xbuild-test/ref-arg-unused", "--build-arg", "NOPE=1", "--build-arg", "USED=yes")
	if res.Code != 0 {
		t.Fatalf("build failed:\n%s", res)
	}
	if !strings.Contains(strings.ToLower(res.Stderr), "one or more build-args [nope] were not consumed") {
		t.Errorf("stderr has no unused build-arg warning naming NOPE:\n%s", res.Stderr)
	}
	img := testutil.ReadImage(t, r, "xbuild-test/ref-arg-unused")
	checkFile(t, img, "/used.txt", "yes\n", 0o644, 0, 0)
}

func TestReferenceLabelForms(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "ref-label-forms")
	equal(t, "Config.Labels", img.Config.Config.Labels, map[string]string{
		"com.example.quoted key": "value with spaces", "single": `it is "single"`,
		"multi.one": "1", "multi.two": "2", "override": "second",
	})
	checkHistory(t, img, baseHistory,
		meta(`LABEL com.example.quoted key=value with spaces single=it is "single"`),
		meta("LABEL multi.one=1 multi.two=2 override=first"),
		meta("LABEL override=second"),
	)
}

func TestReferenceExposeForms(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "ref-expose-forms")
	equal(t, "Config.ExposedPorts", img.Config.Config.ExposedPorts, map[string]struct{}{
		"8000/tcp": {}, "8001/tcp": {}, "8002/tcp": {}, "53/udp": {}, "443/tcp": {}, "9000/udp": {},
	})
	// BuildKit writes the ports in the order given ("EXPOSE [8000/tcp
	// 8001/tcp 8002/tcp 53/udp 443/tcp]", convert_expose.go); xbuild sorts
	// them, so only the prefix is checked.
	checkHistory(t, img, baseHistory, meta("ARG P=9000"), metaPrefix("EXPOSE "), meta("EXPOSE [9000/udp]"))
}

func TestReferenceVolumeForms(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "ref-volume-forms")
	equal(t, "Config.Volumes", img.Config.Config.Volumes, map[string]struct{}{
		"/vol/a": {}, "/vol/b": {}, "/vol/c": {}, "/vol/d": {},
	})
	checkHistory(t, img, baseHistory, meta("VOLUME [/vol/a /vol/b]"), meta("VOLUME [/vol/c /vol/d]"))
	checkAbsent(t, img, "/vol", "/vol/a", "/vol/c")
}

func TestReferenceShellForms(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "ref-shell-forms")
	c := img.Config.Config
	equal(t, "Config.Shell", c.Shell, []string{"/bin/sh", "-e", "-c"})
	equal(t, "Config.Entrypoint", c.Entrypoint, []string{"/bin/sh", "-e", "-c", "echo ep"})
	equal(t, "Config.Cmd", c.Cmd, []string{"/bin/sh", "-e", "-c", "echo cmd"})
	checkFile(t, img, "/shell.txt", "shell /bin/sh\n", 0o644, 0, 0)
	checkHistory(t, img, baseHistory,
		meta("SHELL [/bin/sh -e -c]"),
		layer(`RUN /bin/sh -e -c echo "shell $0" > /shell.txt # buildkit`),
		meta(`ENTRYPOINT ["/bin/sh" "-e" "-c" "echo ep"]`),
		meta(`CMD ["/bin/sh" "-e" "-c" "echo cmd"]`),
	)
}

// rawHealthcheck reads Config.Healthcheck from the image's config blob with
// every field BuildKit writes.
func rawHealthcheck(t *testing.T, r *testutil.Root, img *testutil.Image) map[string]any {
	t.Helper()
	data, err := os.ReadFile(testutil.BlobPath(r.Dir, img.Manifest.Config.Digest))
	must(t, err)
	var cfg struct {
		Config struct {
			Healthcheck map[string]any
		} `json:"config"`
	}
	must(t, json.Unmarshal(data, &cfg))
	return cfg.Config.Healthcheck
}

func TestReferenceHealthcheckAllOptions(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "ref-healthcheck-all")
	hc := rawHealthcheck(t, r, img)
	equal(t, "Healthcheck", hc, map[string]any{
		"Test":          []any{"CMD", "/bin/true", "ok"},
		"Interval":      float64(10e9),
		"Timeout":       float64(3e9),
		"StartPeriod":   float64(20e9),
		"StartInterval": float64(2e9),
		"Retries":       float64(4),
	})
	checkHistory(t, img, baseHistory, metaPrefix("HEALTHCHECK "))
}

func TestReferenceHealthcheckNone(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "ref-healthcheck-none")
	hc := img.Config.Config.Healthcheck
	if hc == nil {
		t.Fatal("Config.Healthcheck is missing, want Test [NONE]")
	}
	equal(t, "Healthcheck.Test", hc.Test, []string{"NONE"})
}

func TestReferenceStopsignalMaintainer(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "ref-stopsignal-maintainer")
	equal(t, "Config.StopSignal", img.Config.Config.StopSignal, "9")
	equal(t, "author", img.Config.Author, "Jane Doe <jane@example.com>")
	checkHistory(t, img, baseHistory,
		meta("ARG SIG=9"),
		meta("STOPSIGNAL 9"),
		meta("MAINTAINER Jane Doe <jane@example.com>"),
	)
}
