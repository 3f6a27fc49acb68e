#!/usr/bin/env bash
# berth build vs docker build (BuildKit, Debian's dockerd 20.10, private daemon) vs
# buildah bud --layers, each when installed, on one generated project: a 2,000-file
# context (plus 2,000 ignored files) and a 3-stage Dockerfile. Four builds:
# cold (empty cache), no-op rebuild, one source file changed, --no-cache.
# Prints the medians and berth's ratio to each peer. Leaves nothing behind.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
cargo build --release --quiet
berth=$PWD/target/release/berth
work=$(mktemp -d /tmp/berth-bench-build.XXXXXX)
root=$work/berth
export DOCKER_HOST=unix://$work/docker.sock
engines=(berth)
# buildah under a private store (overlay; BUILDAH_DRIVER=vfs if overlay is refused),
# the host network, and runc as Debian ships it.
bh() {
  buildah --root "$work/buildah" --runroot "$work/buildah-run" \
    --storage-driver "${BUILDAH_DRIVER:-overlay}" "$@"
}
cleanup() {
  set +e
  [ -f "$work/docker.pid" ] && kill "$(cat "$work/docker.pid")" && sleep 2
  umount -R "$work/docker-data" 2>/dev/null
  if command -v buildah >/dev/null; then bh rmi -af >/dev/null 2>&1; fi
  grep -o "$work[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

bench/busybox-rootfs.sh "$work/busybox.tar"
"$berth" --root "$root" image import "$work/busybox.tar" localhost/busybox:bench >/dev/null
if command -v dockerd >/dev/null && [ "${BENCH_DOCKER:-1}" = 1 ]; then
  dockerd --data-root "$work/docker-data" --exec-root "$work/docker-exec" -H "$DOCKER_HOST" \
    --pidfile "$work/docker.pid" --bridge=none --iptables=false --ip6tables=false \
    >"$work/dockerd.log" 2>&1 &
  for _ in $(seq 100); do /usr/bin/docker info >/dev/null 2>&1 && break; sleep 0.1; done
  /usr/bin/docker import "$work/busybox.tar" localhost/busybox:bench >/dev/null
  engines+=(docker)
fi
if command -v buildah >/dev/null && [ "${BENCH_BUILDAH:-1}" = 1 ]; then
  # The archive has no tag: give it the name the Dockerfile uses.
  if bh pull -q "docker-archive:$work/busybox.tar" >"$work/bh-id" 2>"$work/bh.log" &&
    bh tag "$(cat "$work/bh-id")" localhost/busybox:bench >>"$work/bh.log" 2>&1; then
    engines+=(buildah)
  else
    echo "buildah unusable here (see below); measured without it" >&2
    cat "$work/bh.log" >&2
  fi
fi

# The project: src/ (2,000 files, 4.5 MB), ignored/ (2,000 files), three stages.
p=$work/project
mkdir -p "$p/src" "$p/ignored"
python3 - "$p" <<'PY'
import os, sys
p = sys.argv[1]
for i in range(2000):
    open(f"{p}/src/f{i:04}.txt", "w").write((f"line {i} " * 250)[:2250])
    open(f"{p}/ignored/g{i:04}.txt", "w").write("ignored\n")
open(f"{p}/deps.txt", "w").write("deps\n")
PY
echo "ignored/" >"$p/.dockerignore"
cat >"$p/Dockerfile" <<'DF'
FROM localhost/busybox:bench AS deps
WORKDIR /app
COPY deps.txt ./
RUN cat deps.txt > /app/deps.out

FROM localhost/busybox:bench AS build
WORKDIR /app
COPY src/ ./src/
RUN cat src/* | wc -c > /app/size

FROM localhost/busybox:bench
WORKDIR /app
COPY --from=deps /app/deps.out ./
COPY --from=build /app/size ./
ENV MODE=prod
CMD ["cat", "/app/size"]
DF
printf 'services:\n  app:\n    build: .\n' >"$p/compose.yaml"

build() { # build ENGINE [--no-cache]
  case $1 in
    berth) (cd "$p" && "$berth" --root "$root" build -q ${2:-}) ;;
    docker) DOCKER_BUILDKIT=1 /usr/bin/docker build -q --network=none ${2:-} -t bench-app "$p" ;;
    buildah) bh bud --layers --quiet --network=none --pull=never ${2:-} -t bench-app "$p" ;;
  esac >/dev/null 2>&1
}
reset() { # empties ENGINE's build cache
  case $1 in
    berth) "$berth" --root "$root" builder prune -a -f >/dev/null ;;
    docker) /usr/bin/docker builder prune -af >/dev/null; /usr/bin/docker rmi -f bench-app >/dev/null 2>&1 || true ;;
    buildah) bh rmi -f bench-app >/dev/null 2>&1 || true; bh rmi --prune >/dev/null 2>&1 || true ;;
  esac
}
now() { date +%s.%N; }
timed() { # timed ENGINE OP CMD...
  local e=$1 op=$2 t0 t1
  shift 2
  t0=$(now)
  "$@" || { echo "failed: $e $op" >&2; exit 1; }
  t1=$(now)
  echo "$e|$op|$(awk "BEGIN {print $t1 - $t0}")" >>"$work/times.txt"
}
for e in "${engines[@]}"; do
  echo "measuring $e" >&2
  for _ in $(seq "$runs"); do
    reset "$e"
    timed "$e" "1 cold" build "$e"
    timed "$e" "2 no-op rebuild" build "$e"
    echo "changed $RANDOM" >>"$p/src/f0042.txt"
    timed "$e" "3 one file changed" build "$e"
    timed "$e" "4 --no-cache" build "$e" --no-cache
  done
done
python3 - "$work/times.txt" "${engines[@]}" <<'PY'
import sys, statistics
rows, engines = {}, sys.argv[2:]
for line in open(sys.argv[1]):
    e, op, t = line.strip().split("|")
    rows.setdefault(op, {}).setdefault(e, []).append(float(t))
f = lambda x: "-" if x is None else (f"{x * 1000:.1f} ms" if x < 0.1 else f"{x:.2f} s")
print(f"{'build':<22}" + "".join(f"{e:>12}" for e in engines) + "".join(f"{'berth/' + e:>16}" for e in engines[1:]))
for op in sorted(rows):
    med = {e: statistics.median(v) for e, v in rows[op].items()}
    b = med.get("berth")
    ratios = "".join(f"{(b / med[e]) if e in med else float('nan'):>16.2f}" for e in engines[1:])
    print(f"{op[2:]:<22}" + "".join(f"{f(med.get(e)):>12}" for e in engines) + ratios)
PY
