# Sourced by the benchmarks that compare berth with docker-compose and podman-compose
# in one run: builds berth, starts a private docker daemon, configures podman, imports
# the busybox image `localhost/busybox:bench` into every engine, and (peers_cleanup)
# leaves the host as it was. Sets: work, berth, berth_root, engines, podman_args.
#
# The daemon runs with --bridge=none --iptables=false so it leaves no rules behind
# (slightly in docker's favour); podman runs with runc and explicit ulimits because this
# kind of host lacks CAP_SYS_RESOURCE and crun refuses hybrid cgroups.

read -r -a engines <<<"${ENGINES:-berth docker-compose podman-compose}"
scripts/setup-bench >/dev/null
cargo build --release --quiet
berth=$PWD/target/release/berth
work=$(mktemp -d /tmp/berth-bench.XXXXXX)
export DOCKER_HOST=unix://$work/docker.sock
export CONTAINERS_CONF=$work/containers.conf
berth_root=$work/berth
podman_args="--ulimit nproc=4096:4096 --ulimit nofile=1024:1024"
peers_tables_before=$(nft list tables 2>/dev/null || true)

has_engine() { [[ " ${engines[*]} " == *" $1 "* ]]; }

# The command prefix of ENGINE for project P, in the array `c`.
engine_cmd() { # engine_cmd ENGINE PROJECT
  case $1 in
    berth) c=("$berth" --root "$berth_root" -p "$2") ;;
    docker-compose) c=(docker-compose -p "$2") ;;
    podman-compose) c=(podman-compose -p "$2" "--podman-run-args=$podman_args") ;;
  esac
}

# Takes project P in DIR down in every engine; podman-compose leaves its network behind.
peers_down() { # peers_down DIR PROJECT
  set +e
  (cd "$1" 2>/dev/null && "$berth" --root "$berth_root" -p "$2" down -t 0 >/dev/null 2>&1)
  (cd "$1" 2>/dev/null && docker-compose -p "$2" down -t 0 >/dev/null 2>&1)
  (cd "$1" 2>/dev/null && podman-compose -p "$2" down -t 0 >/dev/null 2>&1)
  podman network rm -f "$2_default" >/dev/null 2>&1
  return 0
}

peers_cleanup() {
  set +e
  podman rmi -f localhost/busybox:bench >/dev/null 2>&1
  [ -f "$work/docker.pid" ] && kill "$(cat "$work/docker.pid")" && sleep 2
  umount -R "$work/docker-data" 2>/dev/null
  # docker and podman (netavark) leave iptables-nft tables behind; drop the ones that
  # were not there before the benchmark.
  nft list tables 2>/dev/null | while read -r _ family name; do
    grep -qx "table $family $name" <<<"$peers_tables_before" || nft delete table "$family" "$name"
  done
  rm -rf "$work"
}

peers_start() {
  if has_engine docker-compose; then
    echo "starting a private docker daemon" >&2
    dockerd --data-root "$work/docker-data" --exec-root "$work/docker-exec" -H "$DOCKER_HOST" \
      --pidfile "$work/docker.pid" --bridge=none --iptables=false --ip6tables=false \
      >"$work/dockerd.log" 2>&1 &
    for _ in $(seq 100); do docker info >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  printf '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' >"$CONTAINERS_CONF"
  bench/busybox-rootfs.sh "$work/busybox.tar"
  has_engine docker-compose && docker import "$work/busybox.tar" localhost/busybox:bench >/dev/null
  has_engine podman-compose && podman import "$work/busybox.tar" localhost/busybox:bench >/dev/null
  has_engine berth && "$berth" --root "$berth_root" image import "$work/busybox.tar" localhost/busybox:bench >/dev/null
  return 0
}

now() { date +%s.%N; }

# Runs CMD and appends "ENGINE|N|OP|SECONDS" to $work/times.txt.
measure() { # measure ENGINE N OP CMD...
  local tag="$1|$2|$3"
  shift 3
  local t0 t1
  t0=$(now)
  "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; return 1; }
  t1=$(now)
  echo "$tag|$(awk "BEGIN {print $t1 - $t0}")" >>"$work/times.txt"
}

# Prints the medians in $work/times.txt as a table with ratios to berth.
report() {
  python3 - "$work/times.txt" <<'PY'
import sys, statistics
rows = {}
for line in open(sys.argv[1]):
    e, n, op, t = line.strip().split("|")
    rows.setdefault((int(n), op), {}).setdefault(e, []).append(float(t))
print(f"{'services':>8}  {'operation':<24} {'berth':>9} {'docker-compose':>15} {'podman-compose':>15} {'vs docker':>10} {'vs podman':>10}")
for (n, op), m in sorted(rows.items()):
    med = {e: statistics.median(v) for e, v in m.items()}
    b = med.get("berth")
    f = lambda x: (f"{x * 1000:.1f} ms" if x < 0.1 else f"{x * 1000:.0f} ms") if x is not None else "-"
    r = lambda x: f"{x / b:.1f}x" if (x and b) else "-"
    d, p = med.get("docker-compose"), med.get("podman-compose")
    print(f"{n:>8}  {op:<24} {f(b):>9} {f(d):>15} {f(p):>15} {r(d):>10} {r(p):>10}")
PY
}
