// Package ops gives llb ops their meaning for the solver: how each op's
// cache key is computed and how it runs — unpacking base images into
// snapshots, hashing context files, running RUN steps in the executor,
// copying files for COPY/ADD, making directories for WORKDIR — and how each
// result becomes a committed snapshot plus a layer blob.
package ops
