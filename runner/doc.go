// Package runner owns `xbuild run`: it turns an image from the local store
// into a container — the image's snapshot stack plus a fresh writable layer
// — and runs the image's entrypoint and command (or the user's overrides)
// in the executor's sandbox, in the foreground, returning the exit code.
package runner
