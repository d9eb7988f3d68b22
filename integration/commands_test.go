package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xbuild/xbuild/internal/testutil"
)

var (
	humanSizeRe = regexp.MustCompile(`^\d+(\.\d+)?(B|kB|MB|GB)$`)
	columnSep   = regexp.MustCompile(`\s{2,}|\t+`)
	shortIDRe   = regexp.MustCompile(`^[0-9a-f]{12}$`)
)

// parseTable splits a docker-style table (columns separated by two or more
// spaces) into its header and rows.
func parseTable(out string) (header []string, rows [][]string) {
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		fields := columnSep.Split(strings.TrimSpace(line), -1)
		if header == nil {
			header = fields
			continue
		}
		rows = append(rows, fields)
	}
	return header, rows
}

// TestInspect checks inspect's output against the blobs it describes.
func TestInspect(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := build(t, r, prepareUnique(t, "inspect"), "xbuild-test/inspect")
	info := img.Info
	equal(t, "Manifest", info.Manifest, img.Manifest)
	equal(t, "RootFS", info.RootFS, img.Config.RootFS)
	if len(info.History) != len(img.Config.History) {
		t.Errorf("inspect shows %d history entries, the config has %d", len(info.History), len(img.Config.History))
	} else {
		for i, got := range info.History {
			want := img.Config.History[i]
			gotT, _ := time.Parse(time.RFC3339Nano, got.Created)
			wantT, _ := time.Parse(time.RFC3339Nano, want.Created)
			if got.CreatedBy != want.CreatedBy || got.Comment != want.Comment || got.EmptyLayer != want.EmptyLayer || !gotT.Equal(wantT) {
				t.Errorf("inspect History[%d] = %+v, config has %+v", i, got, want)
			}
		}
	}
	equal(t, "Architecture/Os", []string{info.Architecture, info.Os}, []string{img.Config.Architecture, img.Config.OS})
	gotCfg, _ := json.Marshal(info.Config)
	wantCfg, _ := json.Marshal(img.Config.Config)
	equal(t, "Config", string(gotCfg), string(wantCfg))
	var size int64
	for _, l := range img.Layers {
		size += l.TarSize
	}
	equal(t, "Size (sum of uncompressed layers)", info.Size, size)
	equal(t, "RepoTags", info.RepoTags, []string{"xbuild-test/inspect:latest"})
	if _, err := time.Parse(time.RFC3339Nano, info.Created); err != nil {
		t.Errorf("Created %q is not an RFC 3339 time: %v", info.Created, err)
	}
	for i, e := range img.Config.History {
		if _, err := time.Parse(time.RFC3339Nano, e.Created); err != nil {
			t.Errorf("history[%d].created %q is not an RFC 3339 time: %v", i, e.Created, err)
		}
	}
	// The ID is the config's digest and the Digest the manifest's;
	// ReadImage verified both blobs, check the files are where they belong.
	for _, d := range []string{info.ID, info.Digest} {
		if _, err := os.Stat(testutil.BlobPath(r.Dir, d)); err != nil {
			t.Errorf("blob %s: %v", d, err)
		}
	}
	if res := r.Run(t, "inspect", "xbuild-test/never-built"); res.Code != 1 {
		t.Errorf("inspect of an unknown image: exit %d, want 1\n%s", res.Code, res)
	}
}

func TestQuietBuild(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	dir := prepareCase(t, "good")
	iid := filepath.Join(t.TempDir(), "iid")
	res := r.MustRun(t, "build", "-q", "-t", "xbuild-test/quiet", "--iidfile", iid, dir)
	id := strings.TrimSuffix(res.Stdout, "\n")
	if !testutil.IsImageID(id) || res.Stdout != id+"\n" {
		t.Fatalf("build -q printed %q, want just the image ID and a newline", res.Stdout)
	}
	for _, line := range strings.Split(res.Stderr, "\n") {
		if strings.HasPrefix(line, "#") {
			t.Errorf("build -q printed progress: %q", line)
		}
	}
	data, err := os.ReadFile(iid)
	must(t, err)
	equal(t, "--iidfile", strings.TrimSpace(string(data)), id)
	equal(t, "inspect Id", r.Inspect(t, "xbuild-test/quiet").ID, id)
	cfg, err := os.ReadFile(testutil.BlobPath(r.Dir, id))
	must(t, err)
	equal(t, "digest of the config blob", testutil.Digest(cfg), id)
}

func TestBuildWithoutBuildWord(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	dir := prepareCase(t, "good")
	r.MustRun(t, "-t", "xbuild-test/no-build-word", "--progress", "plain", dir)
	img := testutil.ReadImage(t, r, "xbuild-test/no-build-word")
	checkFile(t, img, "/good.txt", "good\n", 0o644, 0, 0)
	checkFile(t, img, "/copied.txt", "good\n", 0o644, 0, 0)
}

func TestImagesAndRmi(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	dir := prepareCase(t, "good")
	id := r.MustBuild(t, dir, "-t", "xbuild-test/rmi-a")
	if id2 := r.MustBuild(t, dir, "-t", "xbuild-test/rmi-b"); id2 != id {
		t.Errorf("a fully cached rebuild under another name has ID %s, the first %s", id2, id)
	}

	row := imagesRow(t, r, "xbuild-test/rmi-a", "latest")
	if row == nil {
		t.Fatal("`images` does not list xbuild-test/rmi-a")
	}
	equal(t, "IMAGE ID column", row[2], id[len("sha256:"):][:12])
	if !shortIDRe.MatchString(row[2]) {
		t.Errorf("IMAGE ID column %q is not 12 hex digits", row[2])
	}
	if size := row[len(row)-1]; !humanSizeRe.MatchString(size) {
		t.Errorf("SIZE column %q is not a human size", size)
	}

	r.MustRun(t, "rmi", "xbuild-test/rmi-a")
	if res := r.Run(t, "inspect", "xbuild-test/rmi-a"); res.Code == 0 {
		t.Errorf("inspect still finds xbuild-test/rmi-a after rmi")
	}
	if imagesRow(t, r, "xbuild-test/rmi-a", "latest") != nil {
		t.Errorf("`images` still lists xbuild-test/rmi-a after rmi")
	}
	// The other name of the same image is untouched, blobs included.
	img := testutil.ReadImage(t, r, "xbuild-test/rmi-b")
	equal(t, "ID of the other name", img.Info.ID, id)
	checkFile(t, img, "/good.txt", "good\n", 0o644, 0, 0)

	for _, name := range []string{"xbuild-test/rmi-a", "xbuild-test/never-existed"} {
		res := r.Run(t, "rmi", name)
		if res.Code != 1 || strings.TrimSpace(res.Stderr) == "" {
			t.Errorf("rmi of unknown %s: exit %d, stderr %q; want exit 1 and an error", name, res.Code, res.Stderr)
		}
	}
}

// prepareUnique prepares the "good" case with content of its own, so that
// its image ID is not shared with other tests' images.
func prepareUnique(t *testing.T, marker string) string {
	t.Helper()
	dir := prepareCase(t, "good")
	must(t, os.WriteFile(filepath.Join(dir, "good.txt"), []byte(marker+"\n"), 0o644))
	return dir
}

// imagesRow returns the `images` row of repo:tag, checking the header.
func imagesRow(t *testing.T, r *testutil.Root, repo, tag string) []string {
	t.Helper()
	header, rows := parseTable(r.MustRun(t, "images").Stdout)
	equal(t, "images header", header, []string{"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"})
	for _, row := range rows {
		if len(row) >= 5 && row[0] == repo && row[1] == tag {
			return row
		}
	}
	return nil
}

func TestImageNames(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	dir := prepareUnique(t, "image names")
	tags := map[string]bool{} // RepoTags lists every name of the image
	for _, c := range []struct {
		tag, repo string
		aliases   []string
	}{
		{"app", "app", []string{"app:latest", "docker.io/library/app:latest", "library/app"}},
		{"mynginx/df_test1", "mynginx/df_test1", []string{"mynginx/df_test1:latest", "docker.io/mynginx/df_test1:latest"}},
		{"localhost:5000/team/tool:v1", "localhost:5000/team/tool", []string{"localhost:5000/team/tool:v1"}},
	} {
		id := r.MustBuild(t, dir, "-t", c.tag)
		tags[c.repo+":"+tagOf(c.aliases[0])] = true
		got := map[string]bool{}
		for _, rt := range r.Inspect(t, c.tag).RepoTags {
			got[rt] = true
		}
		equal(t, "RepoTags after tagging "+c.tag, got, tags)
		for _, a := range c.aliases {
			if got := r.Inspect(t, a).ID; got != id {
				t.Errorf("inspect %s: Id %s, want %s (same image as %s)", a, got, id, c.tag)
			}
		}
		if imagesRow(t, r, c.repo, tagOf(c.aliases[0])) == nil {
			t.Errorf("`images` has no row REPOSITORY %s TAG %s", c.repo, tagOf(c.aliases[0]))
		}
	}
}

// tagOf returns the tag of a reference "repo:tag" (the part after the last
// colon that follows the last slash).
func tagOf(ref string) string {
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[i+1:]
	}
	return "latest"
}
