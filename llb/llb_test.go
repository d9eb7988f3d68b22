package llb

import "testing"

func TestDigestCoversOpAndInputs(t *testing.T) {
	base := New(ImageOp{Ref: "a", Manifest: "sha256:aa"}, Meta{Name: "x"})
	same := New(ImageOp{Ref: "a", Manifest: "sha256:aa"}, Meta{Name: "other name"})
	if base.Digest() != same.Digest() {
		t.Fatal("metadata changed the digest")
	}
	run1 := New(ExecOp{Args: []string{"sh", "-c", "true"}}, Meta{}, base)
	run2 := New(ExecOp{Args: []string{"sh", "-c", "false"}}, Meta{}, base)
	if run1.Digest() == run2.Digest() {
		t.Fatal("args did not change the digest")
	}
	other := New(ImageOp{Ref: "a", Manifest: "sha256:bb"}, Meta{})
	run3 := New(ExecOp{Args: []string{"sh", "-c", "true"}}, Meta{}, other)
	if run1.Digest() == run3.Digest() {
		t.Fatal("input did not change the digest")
	}
}
