// Package progress owns what a build shows while it runs: solver events
// rendered as BuildKit's plain output ("#N [stage k/n] INSTRUCTION", timed
// log lines, "#N CACHED", "#N DONE 0.3s", "#N ERROR: …"), or nothing in
// quiet mode.
package progress
