// Package snapshot owns the directory trees that back build steps and
// containers: committed snapshots (read-only, one per layer, used as overlay
// lower dirs) and active snapshots (an upper and a work dir being written).
//
// A committed snapshot is named by the chain ID of the layers it represents,
// so a layer unpacked once is reused by every image and step that stacks it.
// Snapshot directories hold overlayfs-native whiteouts (0/0 character devices
// and the trusted.overlay.opaque xattr); converting to and from OCI whiteouts
// is the layer package's job.
//
// Layout under the state directory:
//
//	snapshots/<name>/fs      the snapshot's own files (an overlay upper dir)
//	snapshots/<name>/work    overlay work dir (active snapshots only)
//	snapshots/<name>/parent  name of the parent snapshot, absent for a base
//
// Commit renames an active directory into place, so a committed snapshot is
// either complete or absent; active directories left by a killed process are
// swept on the next Open. This package imports no xbuild package.
package snapshot
