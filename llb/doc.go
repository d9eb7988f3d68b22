// Package llb owns the build graph: an immutable DAG of vertices, each an
// op (a source, an exec, a file operation) plus its inputs, with a digest
// over a deterministic encoding of the op and the digests of its inputs.
//
// Descriptive metadata (a display name, the Dockerfile location) rides on
// the vertex but stays out of the digest. The package imports no xbuild
// package; the solver walks the graph and the ops package gives each op
// its meaning.
package llb
