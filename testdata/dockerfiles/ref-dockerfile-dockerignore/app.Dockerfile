# With -f app.Dockerfile, app.Dockerfile.dockerignore next to it replaces
# .dockerignore (BuildKit/dockerui: <Dockerfile>.dockerignore first), so
# only a.txt is excluded, and b.txt (excluded by .dockerignore) is sent.
FROM xbuild-test/busybox
COPY . /ctx/
