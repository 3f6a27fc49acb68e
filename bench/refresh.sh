#!/usr/bin/env bash
# The developer's refresh loop, berth vs docker-compose 1.29 (Debian's) with a private
# dockerd 20.10 and BuildKit, in one run, on one 5-service project (3 services built
# from Dockerfiles, 2 image-only; every image from a loopback docker-registry so `pull`
# really asks a registry):
#   (a) rm -f -s && pull && build --no-cache && up -d --force-recreate
#   (b) up -d --build with nothing changed
#   (c) up -d --build after one source file of one service changed
# Prints the medians (RUNS, default 3) and docker-compose/berth ratios.
# Targets: (a) >= 5x, (b) <= 100 ms for berth, (c) >= 5x. Leaves nothing behind.
#
# usage: bench/refresh.sh          (ENGINES="berth docker-compose", RUNS=3)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
read -r -a engines <<<"${ENGINES:-berth docker-compose}"
has_engine() { [[ " ${engines[*]} " == *" $1 "* ]]; }
for tool in docker-registry; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: run scripts/setup-bench" >&2; exit 1; }
done
if has_engine docker-compose && ! { command -v docker-compose && command -v dockerd; } >/dev/null; then
  echo "docker-compose or dockerd is missing: run scripts/setup-bench (or ENGINES=berth)" >&2
  exit 1
fi
cargo build --release --quiet --bin berth --bin berth-supervisor
berth=$PWD/target/release/berth
work=$(mktemp -d /tmp/berth-bench-refresh.XXXXXX)
root=$work/berth
project=refresh
export DOCKER_HOST=unix://$work/docker.sock
# docker-compose 1.29 builds through the docker CLI when asked to (BuildKit); the CLI
# that matches the daemon is Debian's /usr/bin/docker.
export COMPOSE_DOCKER_CLI_BUILD=1 DOCKER_BUILDKIT=1 PATH=/usr/bin:$PATH
tables_before=$(nft list tables 2>/dev/null || true)
reg_pid=
cleanup() {
  set +e
  (cd "$work/p" 2>/dev/null && "$berth" --root "$root" -p $project down -v -t 0 >/dev/null 2>&1)
  (cd "$work/p" 2>/dev/null && docker-compose -p $project down -v -t 0 >/dev/null 2>&1)
  [ -f "$work/docker.pid" ] && kill "$(cat "$work/docker.pid")" && sleep 2
  umount -R "$work/docker-data" 2>/dev/null
  [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null
  wait 2>/dev/null
  nft list tables 2>/dev/null | while read -r _ family name; do
    grep -qx "table $family $name" <<<"$tables_before" || nft delete table "$family" "$name"
  done
  rm -rf "$work"
}
trap cleanup EXIT

# A loopback registry holding the busybox image both engines start from.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/registry.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:$port
YML
docker-registry serve "$work/registry.yml" 2>"$work/registry.log" &
reg_pid=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
base=127.0.0.1:$port/bench/busybox:1
bench/busybox-rootfs.sh "$work/busybox.tar"
"$berth" --root "$work/seed" image import "$work/busybox.tar" "$base" >/dev/null
"$berth" --root "$work/seed" image push "$base" >/dev/null
rm -rf "$work/seed"
"$berth" --root "$root" image pull "$base" >/dev/null

if has_engine docker-compose; then
  echo "starting a private docker daemon" >&2
  dockerd --data-root "$work/docker-data" --exec-root "$work/docker-exec" -H "$DOCKER_HOST" \
    --pidfile "$work/docker.pid" --bridge=none --iptables=false --ip6tables=false \
    >"$work/dockerd.log" 2>&1 &
  for _ in $(seq 100); do docker info >/dev/null 2>&1 && break; sleep 0.1; done
  docker pull -q "$base" >/dev/null
fi

# The project: api, worker and web built (each 300 source files, a COPY and a RUN
# over them), db and cache image-only. Every service exits on SIGTERM.
p=$work/p
python3 - "$p" "$base" <<'PY'
import os, sys
p, base = sys.argv[1], sys.argv[2]
cmd = '["sh", "-c", "trap \'exit 0\' TERM; httpd -p 8080 -h /app 2>/dev/null; sleep 3600 & wait"]'
svcs = []
for name in ["api", "worker", "web"]:
    d = f"{p}/{name}"
    os.makedirs(f"{d}/src")
    for i in range(300):
        open(f"{d}/src/m{i:03}.txt", "w").write((f"{name} line {i} " * 100)[:1500])
    open(f"{d}/.dockerignore", "w").write("*.tmp\n")
    open(f"{d}/Dockerfile", "w").write(
        f"FROM {base}\n"
        "WORKDIR /app\n"
        "COPY src/ ./src/\n"
        "RUN cat src/* | md5sum > /app/sum && ls src | wc -l > /app/count\n"
        f"ENV SERVICE={name}\n"
        f"CMD {cmd}\n"
    )
    # The private dockerd has no bridge (it would leave rules behind), so the
    # builds' RUN steps get no network in either engine; they need none.
    svcs.append(f"  {name}:\n    build:\n      context: ./{name}\n      network: none\n")
for name in ["db", "cache"]:
    svcs.append(f"  {name}:\n    image: {base}\n    command: {cmd}\n")
open(f"{p}/compose.yaml", "w").write("services:\n" + "".join(svcs))
PY

cmd() { # cmd ENGINE ARGS...: the engine's command for the project
  local e=$1
  shift
  case $e in
    berth) "$berth" --root "$root" -p $project "$@" ;;
    docker-compose) docker-compose -p $project "$@" ;;
  esac
}
# `berth up --build` comes with issue 12's compose build work; until a berth has it,
# (b) and (c) time `berth build && berth up -d` instead, and say so.
if "$berth" up --help | grep -q -- '--build'; then
  up_build() { cmd "$1" up -d --build; }
else
  echo "note: this berth has no 'up --build': (b) and (c) time 'build && up -d' for berth" >&2
  up_build() {
    if [ "$1" = berth ]; then cmd berth build -q && cmd berth up -d; else cmd "$1" up -d --build; fi
  }
fi
now() { date +%s.%N; }
measure() { # measure ENGINE OP ARGS...
  local e=$1 op=$2 t0 t1
  shift 2
  t0=$(now)
  (cd "$p" && "$@") >>"$work/$e.log" 2>&1 || { echo "failed ($e, $op): $*; see below" >&2; tail -20 "$work/$e.log" >&2; exit 1; }
  t1=$(now)
  echo "$e|$op|$(awk "BEGIN {print $t1 - $t0}")" >>"$work/times.txt"
}
refresh() { # the loop, as one developer command line
  local e=$1
  cmd "$e" rm -f -s && cmd "$e" pull && cmd "$e" build --no-cache && cmd "$e" up -d --force-recreate
}

for e in "${engines[@]}"; do
  echo "$e: first up --build" >&2
  (cd "$p" && up_build "$e") >>"$work/$e.log" 2>&1 || { tail -20 "$work/$e.log" >&2; exit 1; }
  for ((r = 1; r <= runs; r++)); do
    echo "$e: run $r/$runs" >&2
    measure "$e" "(a) refresh loop" refresh "$e"
    measure "$e" "(b) up --build, no change" up_build "$e"
    echo "changed in run $r by $e" >>"$p/web/src/m007.txt"
    measure "$e" "(c) up --build, 1 file changed" up_build "$e"
  done
  # The last (c) recreated exactly web; everything is running.
  (cd "$p" && cmd "$e" ps) >>"$work/$e.log" 2>&1
  (cd "$p" && cmd "$e" down -v -t 0) >>"$work/$e.log" 2>&1
done

python3 - "$work/times.txt" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    e, op, t = line.strip().split("|")
    rows.setdefault(op, {}).setdefault(e, []).append(float(t))
f = lambda x: "-" if x is None else (f"{x * 1000:.1f} ms" if x < 0.1 else f"{x * 1000:.0f} ms")
print(f"{'operation':<32} {'berth':>10} {'docker-compose':>15} {'ratio':>7}")
for op in sorted(rows):
    med = {e: statistics.median(v) for e, v in rows[op].items()}
    b, d = med.get("berth"), med.get("docker-compose")
    r = f"{d / b:.1f}x" if (b and d) else "-"
    print(f"{op:<32} {f(b):>10} {f(d):>15} {r:>7}")
PY
