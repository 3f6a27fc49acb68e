#!/usr/bin/env bash
# The headline benchmark: berth against docker-compose (Debian's docker.io and
# docker-compose, with a daemon this script starts) and podman-compose, on the
# same generated busybox stacks, in one run. Prints medians and ratios.
#
# usage: bench/compose.sh [SIZES...]      (default: 1 10 50; RUNS=3)
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("${@:-1 10 50}")
read -r -a sizes <<<"${sizes[*]}"
runs=${RUNS:-3}

source bench/peers.sh
cleanup() {
  set +e
  for n in "${sizes[@]}"; do
    for v in ok stubborn; do peers_down "$work/s$n-$v" "b$n$v"; done
  done
  peers_cleanup
}
trap cleanup EXIT
peers_start

gen() { # gen DIR N COMMAND-JSON
  mkdir -p "$1"
  {
    echo "services:"
    for ((i = 0; i < $2; i++)); do
      echo "  s$i:"
      echo "    image: localhost/busybox:bench"
      echo "    command: $3"
    done
  } >"$1/compose.yaml"
}

run_engine() { # run_engine ENGINE N VARIANT
  local e=$1 n=$2 v=$3 p="b$2$3"
  local -a c
  engine_cmd "$e" "$p"
  (
    cd "$work/s$n-$v"
    if [ "$v" = ok ]; then
      measure "$e" "$n" "up" "${c[@]}" up -d
      measure "$e" "$n" "noop up" "${c[@]}" up -d
      measure "$e" "$n" "ps" "${c[@]}" ps
      if [ "$e" = berth ] && [ "$n" = "${sizes[-1]}" ]; then
        ps -eo rss=,args= | awk '/berth .*supervise/ && !/awk/ {s+=$1; n++} END {if (n) printf "supervisor RSS: %d processes, mean %.0f KiB\n", n, s/n}' >&2
      fi
      measure "$e" "$n" "down" "${c[@]}" down
    else
      "${c[@]}" up -d >/dev/null 2>&1
      measure "$e" "$n" "down, SIGTERM ignored" "${c[@]}" down
    fi
  )
}

for n in "${sizes[@]}"; do
  gen "$work/s$n-ok" "$n" '["sh", "-c", "trap '"'"'exit 0'"'"' TERM; sleep 3600 & wait"]'
  gen "$work/s$n-stubborn" "$n" '["sleep", "3600"]'
  for e in "${engines[@]}"; do
    for ((r = 0; r < runs; r++)); do
      echo "size $n, $e, run $((r + 1))/$runs" >&2
      run_engine "$e" "$n" ok
    done
    run_engine "$e" "$n" stubborn
  done
done

report
