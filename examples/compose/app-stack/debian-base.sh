#!/usr/bin/env bash
# Makes the stack's Debian base image as a root filesystem tarball, from Debian's
# packages on the host (debootstrap through deb.debian.org): no container ever needs
# the network. Usage: debian-base.sh CACHE_DIR  -> prints the tarball's path.
#
# The tarball is cached in CACHE_DIR under a key made from the suite, the package
# list and this script, so a second run costs nothing; concurrent runs wait for the
# first (flock). Import it with `berth image import TAR localhost/app-stack-base:bookworm`.
set -euo pipefail
cache=${1:?usage: debian-base.sh CACHE_DIR}
suite=bookworm
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# Everything the services run: nginx (proxy), python3 with bottle, psycopg2 and redis
# (app), PostgreSQL 15 (db), Redis (cache). curl-free: healthchecks use what is there.
packages=(
  nginx-light
  python3-minimal python3-bottle python3-psycopg2 python3-redis
  postgresql-15
  redis-server
)
key=$( { echo "$suite"; printf '%s\n' "${packages[@]}"; cat "$0"; } | sha256sum | cut -c1-16)
out=$cache/debian-base-$suite-$key.tar
mkdir -p "$cache"
cache=$(realpath "$cache")
exec 9>"$cache/.debian-base.lock"
flock 9
if [ -s "$out" ]; then
  echo "$out"
  exit 0
fi

if ! command -v debootstrap >/dev/null; then
  echo "debian-base.sh: debootstrap is not installed (scripts/setup installs it)" >&2
  exit 1
fi
dir=$(mktemp -d "$cache/rootfs.XXXXXX")
cleanup() {
  # debootstrap mounts proc and sys inside the target while it installs.
  for m in proc sys dev/pts dev; do umount -l "$dir/$m" 2>/dev/null || true; done
  rm -rf "$dir" "$out.tmp"
}
trap cleanup EXIT
inc=$(IFS=,; echo "${packages[*]}")
echo "debian-base.sh: debootstrap $suite with $inc (once; cached in $cache)" >&2
mkdir -p "$cache/debs"
if ! debootstrap --variant=minbase --cache-dir="$cache/debs" --include="$inc" "$suite" "$dir" "$mirror" >"$cache/debootstrap.log" 2>&1; then
  echo "debian-base.sh: debootstrap failed; see $cache/debootstrap.log:" >&2
  tail -n 20 "$cache/debootstrap.log" >&2
  exit 1
fi
for m in proc sys dev/pts; do umount -l "$dir/$m" 2>/dev/null || true; done
# The package's own cluster is not used: the db image runs initdb into its volume.
rm -rf "$dir"/var/lib/postgresql/15/main "$dir"/etc/postgresql/15/main
# PostgreSQL's JIT (LLVM, a third of the image) is off in the db image (jit=off), as
# slim images leave it out: the provider and the libraries only it loads go.
rm -rf "$dir"/usr/lib/postgresql/15/lib/llvmjit* "$dir"/usr/lib/postgresql/15/lib/bitcode \
  "$dir"/usr/lib/x86_64-linux-gnu/libLLVM-14.so* "$dir"/usr/lib/x86_64-linux-gnu/libz3.so*
# Caches, documentation, translations and locale sources (the services run in
# C.UTF-8, built into libc) and device nodes (the runtime makes /dev) stay out.
rm -rf "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/usr/share/info/* \
  "$dir"/usr/share/locale/* "$dir"/usr/share/i18n/* \
  "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* "$dir"/var/log/*.log \
  "$dir"/dev/* "$dir"/proc/* "$dir"/sys/* "$dir"/run/*
tar --numeric-owner -C "$dir" -cf "$out.tmp" .
mv "$out.tmp" "$out"
echo "$out"
