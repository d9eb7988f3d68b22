package executor

import (
	"io"
	"slices"
	"strings"
	"testing"
)

const (
	testPasswd = `root:x:0:0:root:/root:/bin/sh
# a comment
daemon:x:1:1:daemon:/usr/sbin:/bin/false

app:x:1000:1000:app:/home/app:/bin/sh
broken:x:notanumber:1:/home/broken:/bin/sh
short:x:2000:2000
1234:x:3000:3000::/home/numeric:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
`
	testGroup = `root:x:0:
daemon:x:1:app
staff:x:50: app , other
app:x:1000:
wheel:x:10:root
nogroup:x:65534:
`
)

func TestResolveUser(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want ids
	}{
		{"", ids{UID: 0, GID: 0, Groups: []uint32{10}, Home: "/root"}},
		{"root", ids{UID: 0, GID: 0, Groups: []uint32{10}, Home: "/root"}},
		{"app", ids{UID: 1000, GID: 1000, Groups: []uint32{1, 50}, Home: "/home/app"}},
		{"1000", ids{UID: 1000, GID: 1000, Groups: []uint32{1, 50}, Home: "/home/app"}},
		{"app:", ids{UID: 1000, GID: 1000, Groups: []uint32{1, 50}, Home: "/home/app"}},
		{"1000:50", ids{UID: 1000, GID: 50, Home: "/home/app"}},
		{"app:staff", ids{UID: 1000, GID: 50, Home: "/home/app"}},
		{"app:777", ids{UID: 1000, GID: 777, Home: "/home/app"}},
		{"4242", ids{UID: 4242, GID: 0, Home: "/"}},
		{"4242:staff", ids{UID: 4242, GID: 50, Home: "/"}},
		{"short", ids{UID: 2000, GID: 2000, Home: "/"}},
		{"3000", ids{UID: 3000, GID: 3000, Home: "/home/numeric"}},
		{"nobody", ids{UID: 65534, GID: 65534, Home: "/nonexistent"}},
	} {
		got, err := resolveUser(tc.spec, strings.NewReader(testPasswd), strings.NewReader(testGroup))
		if err != nil || !sameIDs(got, tc.want) {
			t.Errorf("%q: got %+v, %v; want %+v", tc.spec, got, err, tc.want)
		}
	}
}

func TestResolveUserErrors(t *testing.T) {
	for spec, want := range map[string]string{
		"bob":            "unable to find user bob: no matching entries in passwd file",
		"broken":         "unable to find user broken: no matching entries in passwd file",
		"app:nogrp":      "unable to find group nogrp: no matching entries in group file",
		"99999999999":    "uids and gids must be in range 0-2147483647",
		"app:4294967296": "uids and gids must be in range 0-2147483647",
	} {
		_, err := resolveUser(spec, strings.NewReader(testPasswd), strings.NewReader(testGroup))
		if err == nil || err.Error() != want {
			t.Errorf("%q: got %v, want %q", spec, err, want)
		}
	}
}

// An image without /etc/passwd or /etc/group still runs numeric users.
func TestResolveUserWithoutFiles(t *testing.T) {
	for _, tc := range []struct {
		spec    string
		want    ids
		wantErr string
	}{
		{"", ids{Home: "/"}, ""},
		{"0", ids{Home: "/"}, ""},
		{"1000:1000", ids{UID: 1000, GID: 1000, Home: "/"}, ""},
		{"app", ids{}, "unable to find user app: no matching entries in passwd file"},
		{"0:staff", ids{}, "unable to find group staff: no matching entries in group file"},
	} {
		var none io.Reader
		got, err := resolveUser(tc.spec, none, none)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("%q: got %v, want %q", tc.spec, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !sameIDs(got, tc.want) {
			t.Errorf("%q: got %+v, %v; want %+v", tc.spec, got, err, tc.want)
		}
	}
}

func sameIDs(a, b ids) bool {
	return a.UID == b.UID && a.GID == b.GID && a.Home == b.Home && slices.Equal(a.Groups, b.Groups)
}
