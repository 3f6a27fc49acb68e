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
read -r -a engines <<<"${ENGINES:-berth docker-compose podman-compose}"

scripts/setup-bench >/dev/null
cargo build --release --quiet
berth=$PWD/target/release/berth
work=$(mktemp -d /tmp/berth-bench.XXXXXX)
export DOCKER_HOST=unix://$work/docker.sock
export CONTAINERS_CONF=$work/containers.conf
berth_root=$work/berth
# Podman on this kind of host cannot raise rlimits past the hard limit.
podman_args="--ulimit nproc=4096:4096 --ulimit nofile=1024:1024"

tables_before=$(nft list tables 2>/dev/null || true)
cleanup() {
  set +e
  for n in "${sizes[@]}"; do
    for v in ok stubborn; do
      (cd "$work/s$n-$v" 2>/dev/null && "$berth" --root "$berth_root" -p "b$n$v" down -t 0 >/dev/null 2>&1)
      (cd "$work/s$n-$v" 2>/dev/null && docker-compose -p "b$n$v" down -t 0 >/dev/null 2>&1)
      (cd "$work/s$n-$v" 2>/dev/null && podman-compose -p "b$n$v" down -t 0 >/dev/null 2>&1)
      # podman-compose leaves its networks behind.
      podman network rm -f "b$n${v}_default" >/dev/null 2>&1
    done
  done
  podman rmi -f localhost/busybox:bench >/dev/null 2>&1
  [ -f "$work/docker.pid" ] && kill "$(cat "$work/docker.pid")" && sleep 2
  umount -R "$work/docker-data" 2>/dev/null
  # docker and podman (netavark) leave iptables-nft tables behind; drop the ones
  # that were not there before the benchmark.
  nft list tables 2>/dev/null | while read -r _ family name; do
    grep -qx "table $family $name" <<<"$tables_before" || nft delete table "$family" "$name"
  done
  rm -rf "$work"
}
trap cleanup EXIT

echo "starting a private docker daemon" >&2
dockerd --data-root "$work/docker-data" --exec-root "$work/docker-exec" -H "$DOCKER_HOST" \
  --pidfile "$work/docker.pid" --bridge=none --iptables=false --ip6tables=false \
  >"$work/dockerd.log" 2>&1 &
for _ in $(seq 100); do docker info >/dev/null 2>&1 && break; sleep 0.1; done
printf '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' >"$CONTAINERS_CONF"

bench/busybox-rootfs.sh "$work/busybox.tar"
docker import "$work/busybox.tar" localhost/busybox:bench >/dev/null
podman import "$work/busybox.tar" localhost/busybox:bench >/dev/null
if [[ " ${engines[*]} " == *" berth "* ]]; then
  "$berth" --root "$berth_root" image import "$work/busybox.tar" localhost/busybox:bench >/dev/null
fi

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

now() { date +%s.%N; }
measure() { # measure ENGINE N OP CMD...: appends "ENGINE|N|OP|SECONDS" to times.txt
  local tag="$1|$2|$3"
  shift 3
  local t0 t1
  t0=$(now)
  "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; return 1; }
  t1=$(now)
  echo "$tag|$(awk "BEGIN {print $t1 - $t0}")" >>"$work/times.txt"
}

run_engine() { # run_engine ENGINE N VARIANT
  local e=$1 n=$2 v=$3 p="b$2$3"
  local -a c
  case $e in
    berth) c=("$berth" --root "$berth_root" -p "$p") ;;
    docker-compose) c=(docker-compose -p "$p") ;;
    podman-compose) c=(podman-compose -p "$p" "--podman-run-args=$podman_args") ;;
  esac
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

python3 - "$work/times.txt" <<'PY2'
import sys, statistics
rows = {}
for line in open(sys.argv[1]):
    e, n, op, t = line.strip().split("|")
    rows.setdefault((int(n), op), {}).setdefault(e, []).append(float(t))
print(f"{'services':>8}  {'operation':<22} {'berth':>9} {'docker-compose':>15} {'podman-compose':>15} {'vs docker':>10} {'vs podman':>10}")
for (n, op), m in sorted(rows.items()):
    med = {e: statistics.median(v) for e, v in m.items()}
    b = med.get("berth")
    f = lambda x: f"{x * 1000:.0f} ms" if x is not None else "-"
    r = lambda x: f"{x / b:.1f}x" if (x and b) else "-"
    d, p = med.get("docker-compose"), med.get("podman-compose")
    print(f"{n:>8}  {op:<22} {f(b):>9} {f(d):>15} {f(p):>15} {r(d):>10} {r(p):>10}")
PY2
