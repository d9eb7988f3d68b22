package integration

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xbuild/xbuild/internal/testutil"
)

func TestCopyHeredoc(t *testing.T) {
	t.Parallel()
	r := isolatedRoot(t)
	dir := prepareCase(t, "copy-heredoc")
	img, _ := build(t, r, dir, "heredoc")
	checkFile(t, img, "/hello.txt", "hello world\n", 0o644, 0, 0)
	checkFile(t, img, "/raw.txt", "$GREETING $NAME\n", 0o644, 0, 0)
	checkFile(t, img, "/multi/EOF", "tab stripped\ndeeper\n", 0o644, 0, 0)
	checkFile(t, img, "/multi/BAR", "second world\n", 0o644, 0, 0)
	checkFile(t, img, "/bin/hello.sh", "#!/bin/sh\necho hi from heredoc\n", 0o755, 1000, 1000)
	checkFile(t, img, "/mixed/f.txt", "file\n", 0o644, 0, 0)
	checkFile(t, img, "/mixed/EOF", "inline\n", 0o644, 0, 0)
	checkHistory(t, img, baseHistory+2,
		layer("COPY <<EOF /hello.txt # buildkit"),
		layer("COPY <<EOF /raw.txt # buildkit"),
		layer("COPY <<EOF <<BAR /multi/ # buildkit"),
		layer("COPY --chown=app:app --chmod=0755 <<EOF /bin/hello.sh # buildkit"),
		layer("COPY f.txt <<EOF /mixed/ # buildkit"),
	)

	// Unchanged: all cached. A changed heredoc or build arg re-runs its step.
	_, res := r.Build(t, dir, "-t", "heredoc")
	if res.Code != 0 {
		t.Fatalf("rebuild failed:\n%s", res)
	}
	p := ParseProgress(res.Stderr)
	for _, s := range p.Steps {
		if !s.Cached && !s.IsFrom() {
			t.Errorf("identical rebuild: step %s is not CACHED", s.Instr)
		}
	}
	img, res2 := build(t, r, dir, "heredoc", "--build-arg", "NAME=there")
	checkFile(t, img, "/hello.txt", "hello there\n", 0o644, 0, 0)
	if st := res2.Step(t, "/hello.txt"); st.Cached {
		t.Errorf("COPY <<EOF /hello.txt is CACHED after its expanded content changed")
	}
	df := filepath.Join(dir, "Dockerfile")
	data, err := os.ReadFile(df)
	must(t, err)
	must(t, os.WriteFile(df, []byte(strings.Replace(string(data), "echo hi from heredoc", "echo changed", 1)), 0o644))
	img, p3 := build(t, r, dir, "heredoc", "--build-arg", "NAME=there")
	checkFile(t, img, "/bin/hello.sh", "#!/bin/sh\necho changed\n", 0o755, 1000, 1000)
	if st := p3.Step(t, "/bin/hello.sh"); st.Cached {
		t.Errorf("a changed heredoc's step is CACHED")
	}
}

func TestCopyChmodSymbolic(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	dir := prepareCase(t, "copy-chmod-symbolic")
	must(t, os.Chmod(filepath.Join(dir, "f.txt"), 0o644))
	must(t, os.Chmod(filepath.Join(dir, "tree", "plain.txt"), 0o644))
	must(t, os.Chmod(filepath.Join(dir, "tree", "sub", "run.sh"), 0o744))
	must(t, os.Chmod(filepath.Join(dir, "tree", "sub"), 0o700))
	img, _ := build(t, r, dir, "xbuild-test/copy-chmod-symbolic")
	checkFile(t, img, "/a.txt", "f\n", 0o750, 0, 0)
	checkFile(t, img, "/b.txt", "f\n", 0o755, 0, 0)
	checkFile(t, img, "/c.txt", "f\n", 0o444, 0, 0)
	checkFile(t, img, "/d.txt", "f\n", 0o2640, 0, 0)
	checkFile(t, img, "/e/plain.txt", "plain\n", 0o600, 0, 0)
	checkFile(t, img, "/e/sub/run.sh", "#!/bin/sh\n", 0o700, 0, 0)
	checkDir(t, img, "/e/sub", 0o700, 0, 0)
	checkFile(t, img, "/f/plain.txt", "plain\n", 0o640, 0, 0)
	checkFile(t, img, "/f/sub/run.sh", "#!/bin/sh\n", 0o751, 0, 0)
	checkDir(t, img, "/f/sub", 0o711, 0, 0)
	checkHistory(t, img, baseHistory,
		layer("COPY --chmod=u=rwx,g=rx,o= f.txt /a.txt # buildkit"),
		layer("COPY --chmod=+x f.txt /b.txt # buildkit"),
		layer("COPY --chmod=a-w f.txt /c.txt # buildkit"),
		layer("COPY --chmod=g+s,o-r f.txt /d.txt # buildkit"),
		layer("COPY --chmod=go-rwx,u+X tree /e/ # buildkit"),
		layer("ADD --chmod=a+X,o-r tree /f/ # buildkit"),
	)
}

func TestCopyChmodSymbolicInvalid(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	dir := prepareCase(t, "bad-chmod-symbolic")
	_, res := r.Build(t, dir, "-t", "xbuild-test/bad-chmod-symbolic")
	checkBuildFails(t, res, 3, "invalid chmod parameter: 'u+q'")
}

func TestCopyExclude(t *testing.T) {
	t.Parallel()
	r := isolatedRoot(t)
	dir := prepareCase(t, "copy-exclude")
	img, _ := build(t, r, dir, "exclude")
	checkFile(t, img, "/app/main.go", "main\n", 0o644, 0, 0)
	checkFile(t, img, "/app/sub/keep.go", "s\n", 0o644, 0, 0)
	checkAbsent(t, img, "/app/debug.log", "/app/tmp", "/app/tmp/x")
	checkFile(t, img, "/mydir/home.md", "a\n", 0o644, 0, 0)
	checkAbsent(t, img, "/mydir/homer.txt")
	// sub/deep.log: "*.log" matches at the top level only (dockerignore).
	checkFile(t, img, "/app/sub/deep.log", "slog\n", 0o644, 0, 0)

	// Changing excluded files keeps the step cached; an included one re-runs it.
	must(t, os.WriteFile(filepath.Join(dir, "app", "debug.log"), []byte("changed\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "app", "tmp", "x"), []byte("changed\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "homer.txt"), []byte("changed\n"), 0o644))
	_, p := build(t, r, dir, "exclude")
	for _, s := range p.Steps {
		if !s.Cached && !s.IsFrom() {
			t.Errorf("after changing excluded files: step %s is not CACHED", s.Instr)
		}
	}
	must(t, os.WriteFile(filepath.Join(dir, "app", "main.go"), []byte("v2\n"), 0o644))
	img, p = build(t, r, dir, "exclude")
	checkFile(t, img, "/app/main.go", "v2\n", 0o644, 0, 0)
	if st := p.Step(t, "/app/"); st.Cached {
		t.Errorf("COPY --exclude … app /app/ is CACHED after app/main.go changed")
	}
}

func TestCopyExcludeFromStage(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	d := t.TempDir()
	df := "FROM xbuild-test/busybox AS src\nCOPY app /src/\nFROM xbuild-test/busybox\nCOPY --from=src --exclude=*.log --exclude=sub/keep.go /src /out/\nCOPY --parents --exclude=*.go app/sub /p/\n"
	must(t, os.WriteFile(filepath.Join(d, "Dockerfile"), []byte(df), 0o644))
	testutil.CopyDir(t, filepath.Join(caseDir(t, "copy-exclude"), "app"), filepath.Join(d, "app"))
	img, _ := build(t, r, d, "xbuild-test/copy-exclude-from")
	checkFile(t, img, "/out/main.go", "main\n", 0o644, 0, 0)
	checkFile(t, img, "/out/tmp/x", "t\n", 0o644, 0, 0)
	checkFile(t, img, "/out/sub/deep.log", "slog\n", 0o644, 0, 0)
	checkAbsent(t, img, "/out/debug.log", "/out/sub/keep.go")
	checkFile(t, img, "/p/app/sub/deep.log", "slog\n", 0o644, 0, 0)
	checkAbsent(t, img, "/p/app/sub/keep.go", "/p/app/main.go")
}

func TestCopyParentsMissing(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	d := t.TempDir()
	must(t, os.WriteFile(filepath.Join(d, "Dockerfile"), []byte("FROM xbuild-test/busybox\n\nCOPY --parents x/nope.txt /out/\n"), 0o644))
	_, res := r.Build(t, d, "-t", "xbuild-test/copy-parents-missing")
	checkBuildFails(t, res, 3, "x/nope.txt", "not found")
}

func TestCopyParents(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	dir := prepareCase(t, "copy-parents")
	must(t, os.Chmod(filepath.Join(dir, "x", "a"), 0o750))
	img, _ := build(t, r, dir, "xbuild-test/copy-parents")
	checkFile(t, img, "/out/x/a/f.txt", "f\n", 0o644, 0, 0)
	checkFile(t, img, "/out/x/b/g.txt", "g\n", 0o644, 0, 0)
	checkDir(t, img, "/out/x/a", 0o750, 0, 0)
	checkFile(t, img, "/pivot/a/f.txt", "f\n", 0o644, 0, 0)
	checkAbsent(t, img, "/pivot/x", "/pivot/f.txt")
	checkFile(t, img, "/glob/x/b/g.txt", "g\n", 0o644, 0, 0)
	checkAbsent(t, img, "/glob/x/a")
	checkFile(t, img, "/dirs/x/a/f.txt", "f\n", 0o644, 0, 0)
	checkHistory(t, img, baseHistory,
		layer("COPY --parents x/a/f.txt x/b/g.txt /out/ # buildkit"),
		layer("COPY --parents ./x/./a/f.txt /pivot/ # buildkit"),
		layer("COPY --parents x/*/g.txt /glob/ # buildkit"),
		layer("COPY --parents x/a /dirs # buildkit"),
	)
}

// urlServer serves /files/NAME from a map the test changes, with a fixed
// Last-Modified, and counts the requests.
type urlServer struct {
	mu    sync.Mutex
	files map[string]string
	hits  int
}

func (s *urlServer) set(name, data string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[name] = data
}

func (s *urlServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hits++
	data, ok := s.files[strings.TrimPrefix(r.URL.Path, "/files/")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Last-Modified", time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC).Format(http.TimeFormat))
	fmt.Fprint(w, data)
}

func sha(s string) string { return fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(s))) }

func TestAddURL(t *testing.T) {
	t.Parallel()
	r := isolatedRoot(t)
	srv := &urlServer{files: map[string]string{"data.txt": "v1\n", "app.tar.gz": "not unpacked\n"}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	dir := prepareCase(t, "add-url")
	args := []string{"--build-arg", "BASE=" + ts.URL, "--build-arg", "SUM=" + sha("v1\n")}
	img, _ := build(t, r, dir, "addurl", args...)
	checkFile(t, img, "/dl/data.txt", "v1\n", 0o600, 0, 0)
	checkFile(t, img, "/checked.txt", "v1\n", 0o600, 0, 0)
	checkFile(t, img, "/arch/app.tar.gz", "not unpacked\n", 0o600, 1000, 1000)
	checkHistory(t, img, baseHistory+2,
		layer("ADD "+ts.URL+"/files/data.txt /checked.txt # buildkit"), // BuildKit leaves --checksum out
		layer("ADD "+ts.URL+"/files/data.txt /dl/ # buildkit"),
		layer("ADD --chown=1000:1000 "+ts.URL+"/files/app.tar.gz /arch/ # buildkit"),
	)

	// Same content: cached. Changed content: the step without a checksum
	// re-runs; the one with a checksum (first) is keyed on it and stays cached.
	_, p := build(t, r, dir, "addurl", args...)
	for _, s := range p.Steps {
		if !s.Cached && !s.IsFrom() {
			t.Errorf("unchanged download: step %s is not CACHED", s.Instr)
		}
	}
	srv.set("data.txt", "v2\n")
	img, p = build(t, r, dir, "addurl", args...)
	checkFile(t, img, "/dl/data.txt", "v2\n", 0o600, 0, 0)
	if st := p.Step(t, "/dl/"); st.Cached {
		t.Errorf("ADD URL /dl/ is CACHED after the content changed")
	}
	if st := p.Step(t, "/checked.txt"); !st.Cached {
		t.Errorf("ADD --checksum URL re-ran though URL and checksum are the same")
	}

	// The file's mtime is the response's Last-Modified.
	out := filepath.Join(t.TempDir(), "out")
	_, res := r.Build(t, dir, append(args, "-o", "type=local,dest="+out)...)
	if res.Code != 0 {
		t.Fatalf("local export failed:\n%s", res)
	}
	fi, err := os.Stat(filepath.Join(out, "dl", "data.txt"))
	must(t, err)
	if want := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC); !fi.ModTime().Equal(want) {
		t.Errorf("/dl/data.txt mtime %v, want Last-Modified %v", fi.ModTime().UTC(), want)
	}
}

func TestAddURLErrors(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	srv := &urlServer{files: map[string]string{"data.txt": "v1\n"}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	dir := prepareCase(t, "bad-add-checksum")
	wrong := sha("other\n")
	_, res := r.Build(t, dir, "-t", "xbuild-test/bad-add-checksum", "--build-arg", "BASE="+ts.URL, "--build-arg", "SUM="+wrong)
	checkBuildFails(t, res, 4, ts.URL+"/files/data.txt", wrong, sha("v1\n"))

	cases := []struct {
		df   string
		line int
		want string
	}{
		{"FROM xbuild-test/busybox\nADD --checksum=" + wrong + " f.txt /f\n", 2, "checksum requires HTTP(S) or Git sources"},
		{"FROM xbuild-test/busybox\nCOPY " + ts.URL + "/files/data.txt /f\n", 2, "source can't be a URL for COPY"},
		{"FROM xbuild-test/busybox\nADD " + ts.URL + "/files/missing /f\n", 2, "invalid response status 404"},
	}
	for _, c := range cases {
		d := t.TempDir()
		must(t, os.WriteFile(filepath.Join(d, "Dockerfile"), []byte(c.df), 0o644))
		must(t, os.WriteFile(filepath.Join(d, "f.txt"), []byte("f\n"), 0o644))
		_, res := r.Build(t, d, "-t", "xbuild-test/bad-add-url")
		checkBuildFails(t, res, c.line, c.want)
	}
}
