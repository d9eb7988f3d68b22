//go:build linux

package executor

import (
	"strings"
	"testing"

	"github.com/xbuild/xbuild/snapshot"
)

func TestInitConfigDefaults(t *testing.T) {
	root := []snapshot.Mount{{Type: "bind", Source: "/x", Options: []string{"rbind"}}}
	cfg, err := newInitConfig(root, nil, Process{Args: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Cwd != "/" || cfg.Hostname != "buildkitsandbox" || cfg.NetNS {
		t.Errorf("defaults: cwd %q hostname %q netns %v", cfg.Cwd, cfg.Hostname, cfg.NetNS)
	}
	cfg, err = newInitConfig(root, nil, Process{Args: []string{"true"}, Network: "none", Hostname: "h"})
	if err != nil || !cfg.NetNS || cfg.Hostname != "h" {
		t.Errorf("network none: %+v, %v", cfg, err)
	}
}

func TestInitConfigRejects(t *testing.T) {
	root := []snapshot.Mount{{Type: "bind", Source: "/x", Options: []string{"rbind"}}}
	args := []string{"true"}
	for want, tc := range map[string]struct {
		root   []snapshot.Mount
		mounts []Mount
		p      Process
	}{
		"no rootfs mounts":                   {nil, nil, Process{Args: args}},
		"no command":                         {root, nil, Process{}},
		"is not absolute":                    {root, nil, Process{Args: args, Cwd: "work"}},
		`unsupported network mode "bridge"`:  {root, nil, Process{Args: args, Network: "bridge"}},
		`mount target "mnt" is not absolute`: {root, []Mount{{Target: "mnt", Type: "tmpfs"}}, Process{Args: args}},
		`bind source "src" for /mnt`:         {root, []Mount{{Target: "/mnt", Type: "bind", Source: "src"}}, Process{Args: args}},
		`unsupported mount type "nfs"`:       {root, []Mount{{Target: "/mnt", Type: "nfs"}}, Process{Args: args}},
	} {
		_, err := newInitConfig(tc.root, tc.mounts, tc.p)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want an error with %q", err, want)
		}
	}
}
