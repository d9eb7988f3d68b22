package integration

import (
	"strings"
	"testing"
)

func TestRunHeredoc(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "run-heredoc")
	checkFile(t, img, "/greeting", "hello world\nsecond line\n", 0o644, 0, 0)
	checkFile(t, img, "/script.txt", "from a script: /dev/pipes/SCRIPT\n", 0o644, 0, 0)
	checkFile(t, img, "/conf", "a=1\nb=2\n", 0o644, 0, 0)
	checkFile(t, img, "/count", "2 /conf\n", 0o644, 0, 0)
	for _, l := range img.Layers {
		for _, p := range l.Paths() {
			if strings.HasPrefix(p, "/dev") {
				t.Errorf("a layer holds %s: the heredoc script mount leaked", p)
			}
		}
	}
	h := img.Config.History
	var runs []string
	for _, e := range h {
		if strings.HasPrefix(e.CreatedBy, "RUN ") {
			runs = append(runs, e.CreatedBy)
		}
	}
	if len(runs) < 3 || !strings.HasPrefix(runs[len(runs)-3], "RUN |1 NAME=world /bin/sh -c echo \"hello $NAME\" > /greeting\n") {
		t.Errorf("history of the heredoc RUN: %q", runs)
	}
}
