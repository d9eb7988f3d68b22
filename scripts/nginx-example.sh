#!/usr/bin/env bash
# make nginx-example: the classic tutorial end to end. Makes a Debian base
# image with debootstrap (from the machine's own Debian mirror), builds
# nginx on it, runs it, curls it, rebuilds with and without the cache and
# shows the history.
set -euo pipefail
cd "$(dirname "$0")/.."
X=${XBUILD:-bin/xbuild}
args=()
[[ -n ${XBUILD_ROOT:-} ]] && args=(--root "$XBUILD_ROOT")
x() { "$X" "${args[@]}" "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

tarball=.cache/debian/bookworm.tar
if [[ ! -f $tarball ]]; then
	step "debootstrap a minimal Debian bookworm"
	command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap
	mirror=$(grep -h -oE 'https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null | head -1 | tr -d ' ' || true)
	[[ -n $mirror ]] || { echo "no Debian mirror found in /etc/apt sources" >&2; exit 1; }
	rm -rf .cache/debian/rootfs && mkdir -p .cache/debian
	debootstrap --variant=minbase bookworm .cache/debian/rootfs "$mirror"
	tar -C .cache/debian/rootfs -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
	rm -rf .cache/debian/rootfs
fi

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"; [[ -n ${pid:-} ]] && kill "$pid" 2>/dev/null || true' EXIT
cp examples/debian-base/Dockerfile "$ctx"/ && ln "$tarball" "$ctx"/bookworm.tar 2>/dev/null || cp "$tarball" "$ctx"/

step "xbuild -t local/debian:bookworm (FROM scratch, ADD the root filesystem)"
x -t local/debian:bookworm --progress plain "$ctx"

step "xbuild -t mynginx/df_test1 examples/nginx"
x -t mynginx/df_test1 --progress plain examples/nginx

step "xbuild run mynginx/df_test1 nginx -g 'daemon off;'   (host network, port 80)"
x run --rm mynginx/df_test1 nginx -g 'daemon off;' &
pid=$!
for _ in $(seq 50); do curl -fsS http://127.0.0.1:80/ >/dev/null 2>&1 && break; sleep 0.2; done
curl -fsS http://127.0.0.1:80/ | grep -i '<title>'
kill "$pid"; wait "$pid" || true; pid=

step "rebuild: every step CACHED"
x -t mynginx/df_test1 --progress plain examples/nginx

step "rebuild with --no-cache"
x -t mynginx/df_test1 --progress plain --no-cache examples/nginx 2>&1 | grep -E '^#[0-9]+ (\[|DONE|CACHED)'

step "xbuild history mynginx/df_test1"
x history mynginx/df_test1
