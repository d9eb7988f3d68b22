// Package layer converts between snapshot directories and OCI layer tars,
// and streams layers into the content store.
//
// A snapshot's fs directory is an overlayfs upper dir, so it holds
// overlay-native whiteouts: a deleted path is a 0/0 character device, an
// opaque directory carries trusted.overlay.opaque=y. Layer tars hold OCI
// whiteouts instead: an empty `.wh.NAME` file, and `.wh..wh..opq` inside an
// opaque directory. WriteDiff turns the first form into the second, Apply the
// second into the first.
//
// Tars are reproducible: entries in lexical order, PAX headers with numeric
// owners only, mtimes in whole seconds (optionally clamped to an epoch),
// hardlinks by inode. Apply never writes outside its directory: parents are
// resolved with securejoin, names that climb out with ".." are rejected.
//
// Write produces the diffID (digest of the uncompressed tar), the compressed
// blob and its digest in one streaming pass; Unpack reads a blob back,
// verifying both digests; UnpackChain unpacks an image's missing layers as
// snapshots named by chain ID. Nothing is held in memory beyond bounded
// buffers.
//
// The package owns the tar format, whiteout conversion and compression. It
// does not mount anything. Callers hand it an upper dir that holds the
// step's changes; given the lower dirs, WriteDiff also leaves out
// directories overlayfs merely copied up. It imports
// only the content and snapshot packages of xbuild.
package layer
