package integration

import (
	"testing"

	"github.com/xbuild/xbuild/internal/testutil"
)

func TestCopyFromStage(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, prog := buildCase(t, r, "copy-from")
	checkFile(t, img, "/from-name.txt", "built-by-builder\n", 0o640, 0, 0)
	checkFile(t, img, "/from-index/artifact.txt", "built-by-builder\n", 0o640, 0, 0)
	checkFile(t, img, "/from-index/other.txt", "other\n", 0o644, 0, 0)
	checkFile(t, img, "/second.txt", "second-stage\n", 0o644, 0, 0)
	checkFile(t, img, "/passwd-from-image", testutil.Passwd, 0o644, 0, 0)
	// The builder's own files stay in the builder.
	checkAbsent(t, img, "/out", "/out/artifact.txt")
	equal(t, "layer count", len(img.Layers), baseLayers+4)
	checkHistory(t, img, baseHistory,
		layer("COPY /out/artifact.txt /from-name.txt # buildkit"),
		layer("COPY /out/ /from-index/ # buildkit"),
		layer("COPY /second.txt /second.txt # buildkit"),
		layer("COPY /etc/passwd /passwd-from-image # buildkit"),
	)
	equal(t, "prefix of the builder's first RUN", prog.Step(t, "RUN mkdir -p /out").Prefix(), "builder 2/3")
	equal(t, "prefix of the unnamed stage's RUN", prog.Step(t, "RUN echo second-stage").Prefix(), "stage-1 2/2")
	equal(t, "prefix of the last stage's first COPY", prog.Step(t, "COPY --from=builder").Prefix(), "stage-2 2/5")
}

func TestFromStage(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, prog := buildCase(t, r, "from-stage")
	checkFile(t, img, "/work/both.txt", "in-base\nin-middle\n", 0o644, 0, 0)
	checkFile(t, img, "/work/env.txt", "yes\n", 0o644, 0, 0)
	equal(t, "Config.Env", img.Config.Config.Env, []string{defaultPath, "FROM_BASE=yes"})
	equal(t, "Config.WorkingDir", img.Config.Config.WorkingDir, "/work")
	checkHistory(t, img, baseHistory,
		meta("ENV FROM_BASE=yes"),
		layer("WORKDIR /work"),
		layer("RUN /bin/sh -c echo in-base > base.txt # buildkit"),
		layer("RUN /bin/sh -c echo in-middle > middle.txt # buildkit"),
		layer(`RUN /bin/sh -c cat base.txt middle.txt > /work/both.txt && echo "$FROM_BASE" > /work/env.txt # buildkit`),
	)
	equal(t, "prefix of base's RUN", prog.Step(t, "RUN echo in-base").Prefix(), "base 3/3")
	equal(t, "prefix of middle's RUN", prog.Step(t, "RUN echo in-middle").Prefix(), "middle 1/1")
	equal(t, "prefix of the last stage's RUN", prog.Step(t, "RUN cat base.txt").Prefix(), "stage-2 1/1")
}

func TestFromLocalImage(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	parent, _ := buildCase(t, r, "local-parent")
	img, _ := buildCase(t, r, "from-local-image")
	checkFile(t, img, "/srv/parent.txt", "from-parent\n", 0o644, 0, 0)
	checkFile(t, img, "/srv/child.txt", "child saw parent in /srv\n", 0o644, 0, 0)
	c := img.Config.Config
	equal(t, "Config.Env", c.Env, []string{defaultPath, "PARENT_ENV=parent"})
	equal(t, "Config.WorkingDir", c.WorkingDir, "/srv")
	equal(t, "Config.Labels", c.Labels, map[string]string{"parent.label": "1"})
	equal(t, "Config.Cmd", c.Cmd, []string{"cat", "/srv/parent.txt"})

	// The parent's layers are reused as they are and its history comes first.
	n := len(parent.Manifest.Layers)
	if len(img.Manifest.Layers) != n+1 {
		t.Fatalf("child has %d layers, want the parent's %d + 1", len(img.Manifest.Layers), n)
	}
	equal(t, "the child's first layers", img.Manifest.Layers[:n], parent.Manifest.Layers)
	if len(img.Config.History) == len(parent.Config.History)+1 {
		for i, h := range parent.Config.History {
			got := img.Config.History[i]
			if got.CreatedBy != h.CreatedBy || got.EmptyLayer != h.EmptyLayer {
				t.Errorf("child history[%d] = %q (empty %v), parent's is %q (empty %v)", i, got.CreatedBy, got.EmptyLayer, h.CreatedBy, h.EmptyLayer)
			}
		}
	}
	checkHistory(t, img, len(parent.Config.History),
		layer(`RUN /bin/sh -c echo "child saw $PARENT_ENV in $(pwd)" > child.txt # buildkit`))

	res := r.MustRun(t, "run", "--rm", img.Name)
	equal(t, "output of the inherited CMD", res.Stdout, "from-parent\n")
}

func TestOnbuild(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	parent, _ := buildCase(t, r, "onbuild-parent")
	equal(t, "parent Config.OnBuild", parent.Config.Config.OnBuild, []string{"RUN echo triggered > /onbuild.txt"})
	checkAbsent(t, parent, "/onbuild.txt")
	checkHistory(t, parent, baseHistory, layer("RUN /bin/sh -c echo parent-built > /parent.txt # buildkit"))

	child, prog := buildCase(t, r, "onbuild-child")
	checkFile(t, child, "/onbuild.txt", "triggered\n", 0o644, 0, 0)
	checkFile(t, child, "/seen-by-child.txt", "triggered\n", 0o644, 0, 0)
	checkFile(t, child, "/parent.txt", "parent-built\n", 0o644, 0, 0)
	equal(t, "child Config.OnBuild", child.Config.Config.OnBuild, []string(nil))
	checkHistory(t, child, baseHistory+1,
		layer("RUN /bin/sh -c echo triggered > /onbuild.txt # buildkit"),
		layer("RUN /bin/sh -c cat /onbuild.txt > /seen-by-child.txt # buildkit"),
	)
	trigger := prog.Step(t, "RUN echo triggered")
	own := prog.Step(t, "RUN cat /onbuild.txt")
	equal(t, "trigger step", trigger.Instr, "ONBUILD RUN echo triggered > /onbuild.txt")
	if trigger.Index >= own.Index {
		t.Errorf("trigger step [%s] does not come before the child's own step [%s]", trigger.Prefix(), own.Prefix())
	}
}

func TestTarget(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	dir := prepareCase(t, "target")
	img, prog := build(t, r, dir, "xbuild-test/target", "--target", "builder")
	checkFile(t, img, "/base.txt", "base\n", 0o644, 0, 0)
	checkFile(t, img, "/builder.txt", "builder\n", 0o644, 0, 0)
	checkAbsent(t, img, "/never.txt")
	checkHistory(t, img, baseHistory,
		layer("RUN /bin/sh -c echo base > /base.txt # buildkit"),
		layer("RUN /bin/sh -c echo builder > /builder.txt # buildkit"),
	)
	for _, s := range prog.Steps {
		if s.Stage == "final" {
			t.Errorf("--target builder ran a step of the later stage: [%s] %s", s.Prefix(), s.Instr)
		}
	}
	// Without --target the last stage is built, and it fails.
	_, res := r.Build(t, dir, "-t", "xbuild-test/target-final")
	checkBuildFails(t, res, lineOf(t, dir+"/Dockerfile", "RUN exit 1"), "exit code: 1")
}

func TestUnusedStage(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	dir := prepareCase(t, "unused-stage")
	img, prog := build(t, r, dir, "xbuild-test/unused-stage")
	checkFile(t, img, "/used.txt", "used\n", 0o644, 0, 0)
	for _, s := range prog.Steps {
		if s.Stage == "broken" {
			t.Errorf("a stage the target does not need was built: [%s] %s", s.Prefix(), s.Instr)
		}
	}
	// The unused stage really is broken.
	_, res := r.Build(t, dir, "-t", "xbuild-test/unused-stage-broken", "--target", "broken")
	checkBuildFails(t, res, lineOf(t, dir+"/Dockerfile", "RUN exit 1"), "exit code: 1")
}
