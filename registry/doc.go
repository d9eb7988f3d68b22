// Package registry resolves, pulls and pushes images over the OCI
// distribution protocol. It is the only xbuild package that imports
// go-containerregistry; nothing of that library appears in its exported
// API except the documented Options.Keychain escape hatch.
//
// It owns: mapping xbuild's normalized Docker references (image.ParseReference)
// to registry requests; the choice of plain HTTP for loopback and
// --insecure-registry hosts; credentials from $DOCKER_CONFIG or
// ~/.docker/config.json (auths, credHelpers, credsStore) with basic and
// bearer-token auth; the platform pick from OCI indexes and Docker manifest
// lists; streaming blobs into the content store, each verified against its
// digest (a wrong or truncated blob stores nothing, and the image manifest is
// committed only after all its blobs); pushing only the blobs a registry
// lacks (HEAD, cross-repository mount) and then the manifest byte for byte.
//
// Manifests and blobs are stored and pushed exactly as they were served or
// built, so digests survive a pull/push round trip; nothing is recompressed.
// Credentials never appear in errors or progress events.
//
// It must not touch: the image name store (callers tag what Pull returns),
// snapshots, layer unpacking, or anything above it in the data flow.
package registry
