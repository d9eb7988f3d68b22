package integration

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/xbuild/xbuild/internal/testutil"
)

// The steps of testdata/dockerfiles/cache after FROM, in order.
var cacheSteps = []string{
	"RUN echo step-one",
	"COPY unchanged.txt",
	"COPY changing.txt",
	"RUN cat /changing.txt",
	"RUN echo after",
}

// stepOutputs are the lines the RUN steps of the cache case print.
var stepOutputs = []string{"ran-step-one", "ran-derived", "ran-after"}

func TestCache(t *testing.T) {
	t.Parallel()
	r := isolatedRoot(t)
	dir := prepareCase(t, "cache")
	buildOnce := func(what string, extra ...string) (string, Progress, testutil.Result) {
		t.Helper()
		id, res := r.Build(t, dir, extra...)
		if res.Code != 0 {
			t.Fatalf("%s: build failed:\n%s", what, res)
		}
		return id, ParseProgress(res.Stderr), res
	}

	id1, p1, _ := buildOnce("first build", "-t", "cache")
	for _, s := range cacheSteps {
		if st := p1.Step(t, s); st.Cached || !st.Done {
			t.Errorf("first build: step %q cached=%v done=%v, want it run", s, st.Cached, st.Done)
		}
	}
	checkOutputs(t, "first build", p1, stepOutputs, nil)

	id2, p2, _ := buildOnce("identical rebuild", "-t", "cache")
	equal(t, "image ID of an identical rebuild", id2, id1)
	checkAllCached(t, "identical rebuild", p2)

	// Only the mtime changes: the cache keys hash content, not stat times.
	later := time.Now().Add(2 * time.Hour)
	must(t, os.Chtimes(filepath.Join(dir, "unchanged.txt"), later, later))
	must(t, os.Chtimes(filepath.Join(dir, "changing.txt"), later, later))
	id3, p3, _ := buildOnce("rebuild after touching files", "-t", "cache")
	equal(t, "image ID after touching files", id3, id1)
	checkAllCached(t, "rebuild after touching files", p3)

	must(t, os.WriteFile(filepath.Join(dir, "changing.txt"), []byte("version 2\n"), 0o644))
	id4, p4, _ := buildOnce("rebuild after a change", "-t", "cache")
	if id4 == id1 {
		t.Errorf("changing a copied file kept the image ID %s", id1)
	}
	for i, s := range cacheSteps {
		st := p4.Step(t, s)
		wantCached := i < 2 // RUN echo step-one and COPY unchanged.txt come before the change
		if st.Cached != wantCached {
			t.Errorf("rebuild after changing changing.txt: step %q cached=%v, want %v", s, st.Cached, wantCached)
		}
	}
	checkOutputs(t, "rebuild after a change", p4, []string{"ran-derived", "ran-after"}, []string{"ran-step-one"})
	changed := testutil.ReadImage(t, r, "cache")
	checkFile(t, changed, "/derived.txt", "version 2\n", 0o644, 0, 0)
	checkFile(t, changed, "/changing.txt", "version 2\n", 0o644, 0, 0)

	_, p5, res5 := buildOnce("--no-cache build", "-t", "cache-nocache", "--no-cache")
	if strings.Contains(res5.Stderr, "CACHED") {
		t.Errorf("--no-cache build shows CACHED:\n%s", res5.Stderr)
	}
	checkOutputs(t, "--no-cache build", p5, stepOutputs, nil)
	fresh := testutil.ReadImage(t, r, "cache-nocache")
	checkSameFS(t, changed, fresh)
}

// checkAllCached checks that every step is CACHED with no output (a FROM
// step may also just be DONE).
func checkAllCached(t *testing.T, what string, p Progress) {
	t.Helper()
	if len(p.Steps) < len(cacheSteps) {
		t.Errorf("%s: %d steps in the progress, want at least %d:\n%s", what, len(p.Steps), len(cacheSteps), p.describe())
	}
	for _, s := range p.Steps {
		if s.Cached || (s.IsFrom() && s.Done && s.Error == "") {
			if len(s.Logs) > 0 {
				t.Errorf("%s: step [%s] %s printed output %q", what, s.Prefix(), s.Instr, s.Logs)
			}
			continue
		}
		t.Errorf("%s: step [%s] %s is not CACHED", what, s.Prefix(), s.Instr)
	}
}

// checkOutputs checks which RUN output lines the build printed.
func checkOutputs(t *testing.T, what string, p Progress, want, notWant []string) {
	t.Helper()
	var logs []string
	for _, s := range p.Steps {
		logs = append(logs, s.Logs...)
	}
	for _, w := range want {
		if !slices.Contains(logs, w) {
			t.Errorf("%s: no step printed %q; output lines: %q", what, w, logs)
		}
	}
	for _, w := range notWant {
		if slices.Contains(logs, w) {
			t.Errorf("%s: a step printed %q, so it ran again", what, w)
		}
	}
}

// checkSameFS checks that two images have the same flattened filesystem:
// paths, types, contents, modes, owners and link targets (not mtimes).
func checkSameFS(t *testing.T, a, b *testutil.Image) {
	t.Helper()
	type attrs struct {
		typ      byte
		mode     int64
		uid, gid int
		size     int64
		link     string
		digest   string // covers the content
	}
	key := func(e testutil.Entry) attrs {
		return attrs{e.Type, e.Mode, e.UID, e.GID, e.Size, e.Linkname, e.Digest}
	}
	var paths []string
	for p := range a.FS {
		paths = append(paths, p)
	}
	for p := range b.FS {
		if _, ok := a.FS[p]; !ok {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		ea, okA := a.FS[p]
		eb, okB := b.FS[p]
		switch {
		case !okA:
			t.Errorf("%s has %s, %s does not", b.Name, p, a.Name)
		case !okB:
			t.Errorf("%s has %s, %s does not", a.Name, p, b.Name)
		case key(ea) != key(eb):
			t.Errorf("%s differs: %s in %s, %s in %s", p, ea, a.Name, eb, b.Name)
		}
	}
}
