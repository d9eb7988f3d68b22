package registry

import (
	"os/exec"
	"strings"
	"testing"
)

// TestOnlyRegistryImportsGGCR keeps go-containerregistry behind this
// package: no other xbuild package may import it outside its tests
// (internal/testutil, which only tests use, may).
func TestOnlyRegistryImportsGGCR(t *testing.T) {
	const self = "github.com/xbuild/xbuild/registry"
	out, err := exec.Command("go", "list", "-e", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", "github.com/xbuild/xbuild/...").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, " ")
		if pkg == self || strings.HasPrefix(pkg, "github.com/xbuild/xbuild/internal/testutil") {
			continue
		}
		for _, imp := range strings.Fields(imports) {
			if strings.HasPrefix(imp, "github.com/google/go-containerregistry/") {
				t.Errorf("%s imports %s; registry is the only package that may", pkg, imp)
			}
		}
	}
}
