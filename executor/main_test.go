package executor_test

import (
	"os"
	"testing"

	"github.com/xbuild/xbuild/executor"
)

// TestMain lets the test binary act as the sandbox init: Sandbox.Run
// re-executes /proc/self/exe, which is this binary while testing.
func TestMain(m *testing.M) {
	executor.Init()
	os.Exit(m.Run())
}
