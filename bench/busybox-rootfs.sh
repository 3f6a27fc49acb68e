#!/usr/bin/env bash
# Writes a busybox root filesystem tarball (from Debian's busybox-static) to $1.
# The benchmarks and examples import it as an image into every engine they use.
set -euo pipefail
out=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir"/{bin,etc,tmp,proc,sys,dev,root,var/www}
cp /bin/busybox "$dir/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ "$applet" = busybox ] || ln -s busybox "$dir/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$dir/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$dir/etc/group"
chmod 1777 "$dir/tmp"
tar -C "$dir" -cf "$out" .
