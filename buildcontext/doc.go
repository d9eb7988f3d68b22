// Package buildcontext owns reading source trees for COPY and ADD: the
// build context directory (with its .dockerignore patterns) and, with no
// patterns, the filesystem of an earlier stage. It expands source paths
// and wildcards the way `docker build` does, walks what they select, and
// hashes exactly that selection for cache keys.
//
// Hashing keeps a stat memo (path, size, mtime, ctime, inode, mode →
// content hash) in meta.db, so an unchanged context is re-hashed with stat
// calls only, never reading file contents again.
package buildcontext
