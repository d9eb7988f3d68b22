// Package cache owns the persistent build cache: records in meta.db that map
// a vertex's cache key to its result — a committed snapshot and the layer
// chain that describes it — with the time each record was last used.
//
// The cache does not own snapshots or blobs; a record whose snapshot or
// blobs are gone is reported as a miss by the caller's check and replaced.
package cache
