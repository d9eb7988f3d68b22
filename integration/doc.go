// Package integration is xbuild's end-to-end suite: it builds the
// Dockerfiles of testdata/dockerfiles/<case>/ with the real binary
// ($XBUILD_BIN or bin/xbuild) and checks what a user would see: the files,
// modes and owners of the image read back from the blob store with the
// standard library, its config and history, the build's progress and exit
// codes, `xbuild run`, `history`, `images`, `inspect` and `rmi`.
//
// The tests need root (namespaces, overlayfs) and the static busybox that
// `make busybox` fetches; they are skipped when not run as root (and fail
// if CI is set). The test base image xbuild-test/busybox is built once into
// a shared state dir for tests that only add images to it; tests of the
// cache, failures and crashes use a state dir of their own. Run through
// `make test`, or `go test ./integration` after `make build busybox`.
package integration
