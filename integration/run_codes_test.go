package integration

import (
	"strings"
	"testing"

	"github.com/xbuild/xbuild/internal/testutil"
)

// xbuild run exits like docker run when the container cannot start: 127
// for a command that is not found, 126 for one that cannot be executed,
// 125 for any other failure (an unknown image).
func TestRunStartFailureExitCodes(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	base := testutil.BaseImage
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"run", "--rm", base, "nosuchcmd"}, 127, `"nosuchcmd": executable file not found`},
		{[]string{"run", "--rm", base, "/etc/passwd"}, 126, "permission denied"},
		{[]string{"run", "--rm", "xbuild-test/no-such-image"}, 125, "no such image"},
	} {
		res := r.Run(t, tc.args...)
		if res.Code != tc.code || !strings.Contains(res.LastLine(), tc.msg) {
			t.Errorf("%v: exit %d, last line %q; want %d and %q", tc.args, res.Code, res.LastLine(), tc.code, tc.msg)
		}
	}
}
