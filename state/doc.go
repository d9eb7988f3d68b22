// Package state owns the state directory as a whole: its layout (meta.db,
// blobs/, snapshots/, containers/, tmp/), the default location, and access to
// meta.db.
//
// meta.db is a bbolt database shared by the packages that keep records
// (image names, cache records, the context stat memo). bbolt allows one
// process to hold the file at a time, so the database is opened for each
// transaction and closed right after: long builds never block another
// xbuild process on the same root for longer than one transaction.
//
// Each package that keeps records owns its own bucket; this package knows
// nothing about their contents.
package state
