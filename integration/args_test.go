package integration

import (
	"testing"
)

func TestEnv(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "env")
	equal(t, "Config.Env", img.Config.Config.Env, []string{
		"PATH=/opt/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"A=2", "B=", "C=1", "GREETING=hello world", "EMPTY=", "LEGACY=legacy form value",
		"SRC=src.txt", "DEST=/dest",
	})
	checkFile(t, img, "/env.txt", "A=1 B=[] C=1 G=hello world L=legacy form value\n", 0o644, 0, 0)
	checkFile(t, img, "/path.txt", "/opt/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n", 0o644, 0, 0)
	checkFile(t, img, "/dest/src.txt", "from src.txt\n", 0o644, 0, 0)
	checkFile(t, img, "/a2.txt", "A=2\n", 0o644, 0, 0)
	checkHistory(t, img, baseHistory,
		meta("ENV A=1 B="),
		meta("ENV C=1"),
		meta("ENV GREETING=hello world EMPTY="),
		meta("ENV LEGACY=legacy form value"),
		meta("ENV PATH=/opt/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
		meta("ENV SRC=src.txt DEST=/dest"),
		layer(`RUN /bin/sh -c echo "A=$A B=[$B] C=$C G=$GREETING L=$LEGACY" > /env.txt && echo "$PATH" > /path.txt # buildkit`),
		layer("COPY src.txt /dest/ # buildkit"),
		meta("ENV A=2"),
		layer(`RUN /bin/sh -c echo "A=$A" > /a2.txt # buildkit`),
	)
	// The environment of `xbuild run` is the config's.
	res := r.MustRun(t, "run", "--rm", img.Name, "sh", "-c", `echo "$GREETING|$A|$PATH"`)
	equal(t, "run output", res.Stdout, "hello world|2|/opt/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n")
}

func TestArgGlobal(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "arg-global")
	checkFile(t, img, "/before.txt", "before=[]\n", 0o644, 0, 0)
	checkFile(t, img, "/after.txt", "after=[global-default]\n", 0o644, 0, 0)
	equal(t, "Config.Env (ARGs are not in it)", img.Config.Config.Env, []string{defaultPath})
	checkHistory(t, img, baseHistory,
		layer(`RUN /bin/sh -c echo "before=[$GLOBAL]" > /before.txt # buildkit`),
		meta("ARG GLOBAL=global-default"),
		layer(`RUN |1 GLOBAL=global-default /bin/sh -c echo "after=[$GLOBAL]" > /after.txt # buildkit`),
	)

	img, _ = build(t, r, prepareCase(t, "arg-global"), "xbuild-test/arg-global-cli", "--build-arg", "GLOBAL=from-cli")
	checkFile(t, img, "/before.txt", "before=[]\n", 0o644, 0, 0)
	checkFile(t, img, "/after.txt", "after=[from-cli]\n", 0o644, 0, 0)
	checkHistory(t, img, baseHistory,
		layer(`RUN /bin/sh -c echo "before=[$GLOBAL]" > /before.txt # buildkit`),
		meta("ARG GLOBAL=from-cli"),
		layer(`RUN |1 GLOBAL=from-cli /bin/sh -c echo "after=[$GLOBAL]" > /after.txt # buildkit`),
	)
}

func TestArgStage(t *testing.T) {
	t.Parallel()
	r := sharedRoot(t)
	img, _ := buildCase(t, r, "arg-stage")
	checkFile(t, img, "/v.txt", "v=2\n", 0o644, 0, 0)
	checkFile(t, img, "/w.txt", "w=[] v=2 u=[]\n", 0o644, 0, 0)
	checkFile(t, img, "/v-env.txt", "v=from-env\n", 0o644, 0, 0)
	equal(t, "Config.Env", img.Config.Config.Env, []string{defaultPath, "V=from-env"})
	checkHistory(t, img, baseHistory,
		meta("ARG V=2"),
		layer(`RUN |1 V=2 /bin/sh -c echo "v=$V" > /v.txt # buildkit`),
		meta("ARG W"),
		layer(`RUN |2 V=2 W= /bin/sh -c echo "w=[$W] v=$V u=[$UNDECLARED]" > /w.txt # buildkit`),
		meta("ENV V=from-env"),
		layer(`RUN |2 V=from-env W= /bin/sh -c echo "v=$V" > /v-env.txt # buildkit`),
	)

	img, _ = build(t, r, prepareCase(t, "arg-stage"), "xbuild-test/arg-stage-cli",
		"--build-arg", "V=7", "--build-arg", "W=x", "--build-arg", "UNDECLARED=zzz")
	checkFile(t, img, "/v.txt", "v=7\n", 0o644, 0, 0)
	checkFile(t, img, "/w.txt", "w=[x] v=7 u=[]\n", 0o644, 0, 0)
	checkFile(t, img, "/v-env.txt", "v=from-env\n", 0o644, 0, 0)
	equal(t, "Config.Env", img.Config.Config.Env, []string{defaultPath, "V=from-env"})
	checkHistory(t, img, baseHistory,
		meta("ARG V=7"),
		layer(`RUN |1 V=7 /bin/sh -c echo "v=$V" > /v.txt # buildkit`),
		meta("ARG W=x"),
		layer(`RUN |2 V=7 W=x /bin/sh -c echo "w=[$W] v=$V u=[$UNDECLARED]" > /w.txt # buildkit`),
		meta("ENV V=from-env"),
		layer(`RUN |2 V=from-env W=x /bin/sh -c echo "v=$V" > /v-env.txt # buildkit`),
	)
}
