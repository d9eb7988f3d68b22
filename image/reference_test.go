package image

import "testing"

func TestParseReference(t *testing.T) {
	for in, want := range map[string]string{
		"busybox":                       "docker.io/library/busybox:latest",
		"mynginx/df_test1":              "docker.io/mynginx/df_test1:latest",
		"127.0.0.1:5000/team/app:1":     "127.0.0.1:5000/team/app:1",
		"localhost/app":                 "localhost/app:latest",
		"docker.io/library/debian:12":   "docker.io/library/debian:12",
		"index.docker.io/foo/bar:v1.2":  "docker.io/foo/bar:v1.2",
		"quay.io/a/b/c@sha256:" + hex64: "quay.io/a/b/c@sha256:" + hex64,
	} {
		r, err := ParseReference(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if r.String() != want {
			t.Errorf("%s → %s, want %s", in, r.String(), want)
		}
	}
	for _, bad := range []string{"", "Upper/case", "a:b:c", "foo@sha256:zz", "-x"} {
		if _, err := ParseReference(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	r, _ := ParseReference("mynginx/df_test1")
	if r.Familiar() != "mynginx/df_test1:latest" {
		t.Errorf("familiar %s", r.Familiar())
	}
}

const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
