// Package image owns built images: Docker reference normalization, writing
// an image's config and manifest blobs from its layers and history, and the
// local name store (image names → manifest digest) in meta.db.
//
// An image's ID is the digest of its config blob, as Docker defines it.
package image
