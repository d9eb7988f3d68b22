// Package build runs one build end to end: read and parse the Dockerfile,
// convert it to a graph, solve the graph against the cache, and write the
// image into the local store under its names. It wires the state
// directory's stores together and turns solver failures into errors that
// name the Dockerfile line.
package build
