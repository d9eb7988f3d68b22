#!/usr/bin/env bash
# make demo: build the busybox test base and a sample image, run it, show
# its history, and rebuild it from the cache.
set -euo pipefail
cd "$(dirname "$0")/.."
X=${XBUILD:-bin/xbuild}
ROOT=${XBUILD_ROOT:-}
args=()
[[ -n $ROOT ]] && args=(--root "$ROOT")

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp testdata/dockerfiles/busybox/* "$ctx"/
cp .cache/busybox/busybox "$ctx"/busybox

step "xbuild build -t xbuild-test/busybox (a base image FROM scratch)"
$X "${args[@]}" build --progress plain -t xbuild-test/busybox "$ctx"

step "xbuild -t demo/hello examples/hello"
$X "${args[@]}" -t demo/hello --progress plain examples/hello

step "xbuild run --rm demo/hello"
$X "${args[@]}" run --rm demo/hello

step "xbuild history demo/hello"
$X "${args[@]}" history demo/hello

step "rebuild: every step CACHED"
$X "${args[@]}" -t demo/hello --progress plain examples/hello

step "xbuild images"
$X "${args[@]}" images
