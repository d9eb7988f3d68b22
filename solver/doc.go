// Package solver walks an llb graph from its target: it computes each
// vertex's cache key from its op and its inputs' keys, looks the key up in
// the cache, and runs only the ops that missed — each vertex once, independent
// vertices in parallel under a bound — reporting progress as it goes.
//
// The solver knows llb vertices and the Op interface; it never sees a
// Dockerfile. Concrete ops live in package ops.
package solver
