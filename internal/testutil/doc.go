// Package testutil holds helpers shared by xbuild's tests: locating the
// static busybox the Makefile fetches, making small root filesystems, and
// reading built images from a state directory. Only tests import it.
package testutil
