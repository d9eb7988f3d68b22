package main

import (
	"errors"
	"strings"
	"testing"
)

func TestUnknownFlagSuggestion(t *testing.T) {
	g := &globals{}
	fs := flagSet("build", g)
	fs.StringP("tag", "t", "", "")
	fs.Bool("no-cache", false, "")
	_, err := parse(fs, []string{"--tagg", "x", "."}, 1, 1)
	var ue usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "unknown flag: --tagg (did you mean --tag?)") {
		t.Fatalf("error %v", err)
	}
	_, err = parse(flagSet("build", g), []string{"--zzzzzzzz", "."}, 1, 1)
	if err == nil || strings.Contains(err.Error(), "did you mean") {
		t.Fatalf("far-off flag got a suggestion: %v", err)
	}
}
