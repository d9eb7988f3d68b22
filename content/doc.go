// Package content owns the on-disk blob store: every layer, config and
// manifest under blobs/sha256/<hex> in the state directory.
//
// Blobs are written through a Writer into tmp/, hashed as they stream,
// fsync'd, verified against the expected digest and renamed into place, so a
// blob path either holds exactly the bytes its name promises or does not
// exist. Committing a blob that already exists is success. Reads verify the
// digest as they go and fail at EOF on a mismatch. This package imports no
// xbuild package.
package content
