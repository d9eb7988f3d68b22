package depcheck

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/xbuild/xbuild/"

// deps lists the xbuild packages pkg imports, directly or not.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", module+pkg).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	var ours []string
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, module) && p != module+pkg {
			ours = append(ours, strings.TrimPrefix(p, module))
		}
	}
	return ours
}

func TestLeafPackagesImportNoXbuildPackage(t *testing.T) {
	allowed := map[string][]string{
		"llb":      nil,
		"content":  nil,
		"snapshot": nil,
		"state":    nil,
		"executor": {"snapshot"},
		"layer":    {"content", "snapshot"},
	}
	for pkg, ok := range allowed {
		for _, d := range deps(t, pkg) {
			if !contains(ok, d) {
				t.Errorf("%s imports %s", pkg, d)
			}
		}
	}
}

func TestSolverKnowsNoDockerfile(t *testing.T) {
	for _, d := range deps(t, "solver") {
		switch d {
		case "parser", "convert", "build", "ops", "executor", "image":
			t.Errorf("solver imports %s", d)
		}
	}
}

func TestNothingImportsUp(t *testing.T) {
	// The lower a package is in the data flow, the fewer packages above it
	// it may import.
	above := map[string][]string{
		"parser":  {"convert", "solver", "ops", "build", "runner", "image"},
		"convert": {"solver", "ops", "build", "runner", "executor"},
		"image":   {"convert", "solver", "ops", "build", "runner", "parser"},
		"ops":     {"convert", "parser", "build", "runner"},
		"runner":  {"convert", "parser", "build", "solver"},
	}
	for pkg, banned := range above {
		for _, d := range deps(t, pkg) {
			if contains(banned, d) {
				t.Errorf("%s imports %s, which sits above it", pkg, d)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
