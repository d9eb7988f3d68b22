#!/bin/sh
# Records what the sandbox looks like from inside; see the Dockerfile.
mkdir -p /probe
touch /etc/marker-from-run
echo "$HOSTPATH" > /probe/hostpath-arg
if test -e "$HOSTPATH"; then echo visible; else echo hidden; fi > /probe/hostpath
echo $$ > /probe/pid
ls /proc | grep -c '^[0-9]' > /probe/nprocs
if test -e /proc/1/cmdline; then tr '\0' ' ' < /proc/1/cmdline; else echo missing; fi > /probe/pid1-cmdline
hostname > /probe/hostname
if test -e /etc/hostname; then cat /etc/hostname; else echo missing; fi > /probe/etc-hostname
if test -e /etc/hosts; then cat /etc/hosts; else echo missing; fi > /probe/etc-hosts
if test -e /etc/resolv.conf; then echo present; else echo missing; fi > /probe/resolv
if test -c /dev/null; then echo chardev; else echo missing; fi > /probe/devnull
exit 0
