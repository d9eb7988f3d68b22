package parser

import (
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

func TestParseStagesAndMetaArgs(t *testing.T) {
	df, err := Parse("Dockerfile", []byte("ARG BASE=scratch\nFROM $BASE AS build\nRUN echo hi\n\nFROM build\nCOPY --from=build /a /b\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(df.MetaArgs) != 1 || df.MetaArgs[0].Args[0].Key != "BASE" {
		t.Fatalf("meta args %+v", df.MetaArgs)
	}
	if len(df.Stages) != 2 || df.Stages[0].Name != "build" || len(df.Stages[1].Commands) != 1 {
		t.Fatalf("stages %+v", df.Stages)
	}
	c := df.Stages[1].Commands[0].(*instructions.CopyCommand)
	if got := c.Location()[0].Start.Line; got != 6 {
		t.Fatalf("COPY line %d, want 6", got)
	}
}

func TestParseErrorsNameTheLine(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"FROM scratch\nFOO bar\n", "Dockerfile:2: unknown instruction: FOO"},
		{"FROM scratch\nRUN true\nCOPY onlyone\n", "Dockerfile:3: COPY requires at least two arguments"},
		{"FROM scratch\n\nENV\n", "Dockerfile:3: ENV requires at least one argument"},
		{"RUN true\n", "Dockerfile:1: RUN: no FROM before this instruction"},
		{"FROM\n", "Dockerfile:1: FROM requires"},
		{"# just a comment\n", "Dockerfile:1: file with no instructions"},
	} {
		_, err := Parse("Dockerfile", []byte(tc.src))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want prefix %q", tc.src, err, tc.want)
		}
	}
}

func TestErrorExcerpt(t *testing.T) {
	_, err := Parse("Dockerfile", []byte("FROM scratch\nRUN true\nFOO bar\nCMD x\n"))
	pe, ok := err.(*Error)
	if !ok {
		t.Fatalf("error %T %v", err, err)
	}
	got := strings.Join(pe.Excerpt(), "\n")
	want := "Dockerfile:3\n--------------------\n   2 |     RUN true\n   3 | >>> FOO bar\n   4 |     CMD x\n--------------------"
	if got != want {
		t.Fatalf("excerpt:\n%s\nwant:\n%s", got, want)
	}
	if (&Error{File: "Dockerfile", Err: err}).Excerpt() != nil {
		t.Fatal("an error without a line has an excerpt")
	}
}

func TestSyntaxDirectiveIsNoted(t *testing.T) {
	df, err := Parse("Dockerfile", []byte("# syntax=docker/dockerfile:1\n# escape=\\\nFROM scratch\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(df.Warnings) != 1 || !strings.Contains(df.Warnings[0], "syntax directive (docker/dockerfile:1) is ignored") {
		t.Fatalf("warnings %q", df.Warnings)
	}
	df, _ = Parse("Dockerfile", []byte("FROM scratch\n# syntax=x\n"))
	if len(df.Warnings) != 0 {
		t.Fatalf("a comment after FROM taken as a directive: %q", df.Warnings)
	}
}
