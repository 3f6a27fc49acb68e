#!/usr/bin/env bash
# What N idle containers' supervisors (and their guards) cost while nothing happens:
# `up -d` of N busybox services on the project's bridge network, then the CPU time
# (utime + stime from /proc/PID/stat) and the wake-ups (context switches from
# /proc/PID/status) of every supervisor and guard over SECS seconds; then `down`.
#
#   bench/idle.sh                       # BERTH=target/release/berth N=50 SECS=30
#   BERTH=/path/to/other/berth bench/idle.sh   # the same on another build
set -euo pipefail
cd "$(dirname "$0")/.."
berth=$(realpath "${BERTH:-target/release/berth}")
n=${N:-50}
secs=${SECS:-30}
work=$(mktemp -d /tmp/berth-idle.XXXXXX)
root=$work/root
project=idle$$
cleanup() {
  set +e
  (cd "$work" && "$berth" --root "$root" -p "$project" down -t 0 >/dev/null 2>&1)
  rm -rf "$work"
}
trap cleanup EXIT
bench/busybox-rootfs.sh "$work/busybox.tar"
"$berth" --root "$root" image import "$work/busybox.tar" localhost/busybox:idle >/dev/null
{
  echo "services:"
  for ((i = 0; i < n; i++)); do
    echo "  s$i:"
    echo "    image: localhost/busybox:idle"
    echo "    command: [\"sleep\", \"3600\"]"
  done
} >"$work/compose.yaml"
(cd "$work" && "$berth" --root "$root" -p "$project" up -d >/dev/null)

# Every supervisor and guard of this root: their command line names it.
pids() {
  for p in /proc/[0-9]*; do
    if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q -- "--root $root .*supervise"; then
      echo "${p#/proc/}"
    fi
  done
}
# "TICKS SWITCHES" of one process: utime + stime, voluntary + involuntary.
sample() {
  local t s
  t=$(awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$1/stat" 2>/dev/null) || return 0
  s=$(awk '/ctxt_switches/ {s += $2} END {print s}' "/proc/$1/status" 2>/dev/null) || return 0
  echo "$1 $t $s"
}
mapfile -t procs < <(pids)
sleep 2 # past the first start's work
for p in "${procs[@]}"; do sample "$p"; done >"$work/before"
sleep "$secs"
for p in "${procs[@]}"; do sample "$p"; done >"$work/after"
hz=$(getconf CLK_TCK)
join "$work/before" "$work/after" | awk -v hz="$hz" -v n="$n" -v secs="$secs" -v procs="${#procs[@]}" '
  { ticks += $4 - $2; sw += $5 - $3 }
  END {
    printf "%d containers, %d supervisor+guard processes, %d s idle:\n", n, procs, secs
    printf "  CPU %.0f ms in all (%.2f ms per container), %d wake-ups (%.1f per container per second)\n",
      ticks * 1000 / hz, ticks * 1000 / hz / n, sw, sw / n / secs
  }'
