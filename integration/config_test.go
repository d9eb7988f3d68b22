package integration

import (
	"archive/tar"
	"strings"
	"testing"
)

func TestWorkdir(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, prog := buildCase(t, r, "workdir")
	for _, d := range []string{"/app", "/app/sub", "/app/other", "/from-env", "/from-env/deep"} {
		checkDir(t, img, d, 0o755, 0, 0)
	}
	checkFile(t, img, "/pwd1.txt", "/app\n", 0o644, 0, 0)
	checkFile(t, img, "/pwd2.txt", "/app/sub\n", 0o644, 0, 0)
	checkFile(t, img, "/pwd3.txt", "/from-env/deep\n", 0o644, 0, 0)
	checkFile(t, img, "/app/other/rel.txt", "relative\n", 0o644, 0, 0)
	equal(t, "Config.WorkingDir", img.Config.Config.WorkingDir, "/from-env/deep")
	checkHistory(t, img, baseHistory,
		layer("WORKDIR /app"),
		layer("RUN /bin/sh -c pwd > /pwd1.txt # buildkit"),
		layer("WORKDIR /app/sub"),
		layer("RUN /bin/sh -c pwd > /pwd2.txt # buildkit"),
		layer("WORKDIR /app/other"),
		layer("COPY a.txt rel.txt # buildkit"),
		meta("ENV DIRNAME=/from-env"),
		layer("WORKDIR /from-env/deep"),
		layer("RUN /bin/sh -c pwd > /pwd3.txt # buildkit"),
	)
	if l := img.LayerOf(baseHistory); l >= 0 {
		if e, ok := img.Layers[l].Find("/app"); !ok || e.Type != tar.TypeDir {
			t.Errorf("the layer of `WORKDIR /app` has no directory /app: %v", img.Layers[l].Paths())
		}
	}
	equal(t, "prefix of `WORKDIR /app`", prog.Step(t, "WORKDIR /app").Prefix(), "2/9")
	res := r.MustRun(t, "run", "--rm", img.Name, "pwd")
	equal(t, "`xbuild run pwd` output", res.Stdout, "/from-env/deep\n")
}

func TestUser(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "user")
	idApp := content(t, img, "/tmp/id-app.txt")
	if !strings.HasPrefix(idApp, "uid=1000(app) gid=1000(app)") || !strings.Contains(idApp, "50(staff)") {
		t.Errorf("`id` under USER app printed %q, want uid=1000(app) gid=1000(app) with supplementary group 50(staff)", idApp)
	}
	if idUG := content(t, img, "/tmp/id-uidgid.txt"); !strings.HasPrefix(idUG, "uid=1000(app) gid=50(staff)") {
		t.Errorf("`id` under USER 1000:50 printed %q, want uid=1000(app) gid=50(staff)", idUG)
	}
	checkFile(t, img, "/tmp/by-app", "", 0o644, 1000, 1000)
	checkDir(t, img, "/home/app/made", 0o755, 1000, 1000)
	checkFile(t, img, "/tmp/by-uidgid", "", 0o644, 1000, 50)
	checkDir(t, img, "/daemon-work", 0o755, 1, 1)
	checkFile(t, img, "/tmp/plain.txt", "plain\n", 0o644, 0, 0)
	equal(t, "Config.User", img.Config.Config.User, "app")
	checkHistory(t, img, baseHistory,
		meta("USER app"),
		layer("RUN /bin/sh -c id > /tmp/id-app.txt && touch /tmp/by-app && mkdir /home/app/made # buildkit"),
		meta("USER 1000:50"),
		layer("RUN /bin/sh -c id > /tmp/id-uidgid.txt && touch /tmp/by-uidgid # buildkit"),
		meta("USER daemon"),
		layer("WORKDIR /daemon-work"),
		meta("USER app"),
		layer("COPY plain.txt /tmp/plain.txt # buildkit"),
	)
	res := r.MustRun(t, "run", "--rm", img.Name, "id", "-u")
	equal(t, "`xbuild run id -u` (config User app)", res.Stdout, "1000\n")
}

func TestMetadata(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, prog := buildCase(t, r, "metadata")
	c := img.Config.Config
	equal(t, "Config.Labels", c.Labels, map[string]string{
		"org.example.name": "xbuild test", "version": "1.0", "multi.a": "a", "multi.b": "b",
	})
	equal(t, "Config.ExposedPorts", c.ExposedPorts, map[string]struct{}{"80/tcp": {}, "53/udp": {}, "8080/tcp": {}})
	equal(t, "Config.Volumes", c.Volumes, map[string]struct{}{"/data": {}, "/logs": {}, "/cache": {}})
	equal(t, "Config.StopSignal", c.StopSignal, "SIGUSR1")
	equal(t, "Config.Cmd (inherited)", c.Cmd, []string{"sh"})
	equal(t, "author", img.Config.Author, "tester@example.com")
	checkHistory(t, img, baseHistory,
		meta("LABEL org.example.name=xbuild test version=1.0"),
		meta("LABEL multi.a=a multi.b=b"),
		metaPrefix("EXPOSE "),
		metaPrefix("EXPOSE "),
		meta("VOLUME [/data]"),
		meta("VOLUME [/logs /cache]"),
		meta("STOPSIGNAL SIGUSR1"),
		meta("MAINTAINER tester@example.com"),
	)
	// No layer of its own: exactly the base image's layers.
	base := r.Inspect(t, "xbuild-test/busybox")
	equal(t, "layers", img.Manifest.Layers, base.Manifest.Layers)
	checkAbsent(t, img, "/data", "/logs", "/cache")
	for _, s := range prog.Steps {
		if !s.IsFrom() {
			t.Errorf("metadata instruction shown as a step: [%s] %s", s.Prefix(), s.Instr)
		}
	}
}

func TestShellAndHealthcheck(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img := buildOptional(t, r, prepareCase(t, "shell-healthcheck"), "xbuild-test/shell-healthcheck")
	c := img.Config.Config
	equal(t, "Config.Shell", c.Shell, []string{"/bin/busybox", "sh", "-c"})
	equal(t, "Config.Cmd", c.Cmd, []string{"/bin/busybox", "sh", "-c", "echo hi"})
	if c.Healthcheck == nil {
		t.Fatal("Config.Healthcheck is missing")
	}
	equal(t, "Config.Healthcheck.Test", c.Healthcheck.Test, []string{"CMD-SHELL", "wget -q -O /dev/null http://localhost/ || exit 1"})
	equal(t, "Healthcheck Interval/Timeout/Retries", []int64{c.Healthcheck.Interval, c.Healthcheck.Timeout, int64(c.Healthcheck.Retries)}, []int64{5e9, 2e9, 3})
	checkFile(t, img, "/custom.txt", "via-custom-shell\n", 0o644, 0, 0)
	checkHistory(t, img, baseHistory,
		meta("SHELL [/bin/busybox sh -c]"),
		layer("RUN /bin/busybox sh -c echo via-custom-shell > /custom.txt # buildkit"),
		meta(`CMD ["/bin/busybox" "sh" "-c" "echo hi"]`),
		metaPrefix("HEALTHCHECK "),
	)
}
