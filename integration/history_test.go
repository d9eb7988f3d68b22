package integration

import (
	"crypto/sha256"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xbuild/xbuild/internal/testutil"
)

// historyImage builds the history case (with a 300 kB file) into the shared
// root.
func historyImage(t *testing.T) (*testutil.Root, *testutil.Image) {
	t.Helper()
	r := sharedRoot(t)
	dir := prepareCase(t, "history")
	big := make([]byte, 0, 300_000)
	for sum := sha256.Sum256([]byte("seed")); len(big) < cap(big); sum = sha256.Sum256(sum[:]) {
		big = append(big, sum[:]...)
	}
	must(t, os.WriteFile(filepath.Join(dir, "big.bin"), big[:300_000], 0o644))
	img, _ := build(t, r, dir, "xbuild-test/history")
	return r, img
}

func TestHistoryCommand(t *testing.T) {
	t.Parallel()
	r, img := historyImage(t)
	h := img.Config.History
	if len(h) != baseHistory+5 {
		t.Fatalf("image has %d history entries, want %d:\n%s", len(h), baseHistory+5, formatHistory(h))
	}

	// JSON, full and in bytes: one row per entry, newest first, base rows included.
	rows := r.History(t, img.Name)
	if len(rows) != len(h) {
		t.Fatalf("history shows %d rows, the image has %d entries", len(rows), len(h))
	}
	for i, row := range rows {
		idx := len(h) - 1 - i
		e := h[idx]
		wantID := "<missing>"
		if i == 0 {
			wantID = img.Info.ID
		}
		wantSize := "0"
		if l := img.LayerOf(idx); l >= 0 {
			wantSize = strconv.FormatInt(img.Layers[l].TarSize, 10)
		}
		equal(t, "row "+strconv.Itoa(i)+" ID", row.ID, wantID)
		equal(t, "row "+strconv.Itoa(i)+" CreatedBy", row.CreatedBy, e.CreatedBy)
		equal(t, "row "+strconv.Itoa(i)+" Comment", row.Comment, historyComment)
		equal(t, "row "+strconv.Itoa(i)+" ("+e.CreatedBy+") Size", row.Size, wantSize)
		if _, err := time.Parse(time.RFC3339, row.CreatedAt); err != nil {
			t.Errorf("row %d CreatedAt %q is not RFC 3339 (with -H=false): %v", i, row.CreatedAt, err)
		}
	}
	// CreatedSince moves with the clock between the two calls: compare
	// everything else.
	again := r.History(t, img.Name, "-H=false")
	for i := range again {
		if i < len(rows) {
			again[i].CreatedSince = rows[i].CreatedSince
		}
	}
	equal(t, "history -H=false", again, rows)

	// Human sizes.
	res := r.MustRun(t, "history", "--no-trunc", "--format", "json", img.Name)
	var human []testutil.HistoryRow
	for _, line := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
		var row testutil.HistoryRow
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatalf("history --format json: %q: %v", line, err)
		}
		human = append(human, row)
	}
	if len(human) != len(h) {
		t.Fatalf("history --format json shows %d rows, want %d", len(human), len(h))
	}
	for i, row := range human {
		empty := h[len(h)-1-i].EmptyLayer
		if (empty && row.Size != "0B") || (!empty && !humanSizeRe.MatchString(row.Size)) {
			t.Errorf("row %d: human size %q for %s bytes", i, row.Size, rows[i].Size)
		}
		if !strings.HasSuffix(row.CreatedSince, " ago") {
			t.Errorf("row %d: CreatedSince %q, want \"... ago\"", i, row.CreatedSince)
		}
	}

	// Table: header, short ID on top, <missing> below; CREATED BY is
	// truncated unless --no-trunc.
	header, table := parseTable(r.MustRun(t, "history", img.Name).Stdout)
	equal(t, "table header", header, []string{"IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"})
	if len(table) != len(h) {
		t.Fatalf("history table has %d rows, want %d", len(table), len(h))
	}
	equal(t, "IMAGE of the top row", table[0][0], img.Info.ID[len("sha256:"):][:12])
	for i, row := range table[1:] {
		equal(t, "IMAGE of row "+strconv.Itoa(i+1), row[0], "<missing>")
	}
	long := h[3].CreatedBy // the base image's long RUN
	truncated := r.MustRun(t, "history", img.Name).Stdout
	if strings.Contains(truncated, long) {
		t.Errorf("history without --no-trunc shows %q in full", long)
	}
	full := r.MustRun(t, "history", "--no-trunc", img.Name).Stdout
	for _, e := range h {
		if !strings.Contains(full, e.CreatedBy) {
			t.Errorf("history --no-trunc does not show %q", e.CreatedBy)
		}
	}

	// A Go template.
	tmpl := r.MustRun(t, "history", "--no-trunc", "--format", "{{.CreatedBy}}", img.Name).Stdout
	lines := strings.Split(strings.TrimRight(tmpl, "\n"), "\n")
	if len(lines) != len(h) || lines[0] != h[len(h)-1].CreatedBy || lines[len(lines)-1] != h[0].CreatedBy {
		t.Errorf("history --format {{.CreatedBy}} printed:\n%s\nwant the %d created_by values, newest first", tmpl, len(h))
	}
}
