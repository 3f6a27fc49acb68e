#!/usr/bin/env bash
# Health and exec benchmark, berth against docker-compose and podman-compose in one run:
#
# 1. "up, all healthy": a 10-service stack where every service has a healthcheck and
#    half wait (depends_on: service_healthy) on the other half. berth: `up -d --wait`;
#    docker-compose 1.29 has no --wait, so: `up -d` (which waits for the healthy
#    dependencies) and then poll `docker ps --filter health=healthy` until all ten are.
#    The floor is two healthcheck intervals (one per tier), printed beside the figures.
#    podman runs healthchecks from systemd timers; on a host without systemd they never
#    run, so podman-compose gets `up -d` only (labelled, not comparable).
# 2. "exec": `berth exec -T svc true` against `docker exec`, `podman exec` and
#    `crun exec` (the floor to approach) into a running busybox container, by hyperfine.
#
# usage: bench/wait-exec.sh        (RUNS=3 up runs, EXEC_RUNS=50, INTERVAL_MS=500)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
exec_runs=${EXEC_RUNS:-50}
interval_ms=${INTERVAL_MS:-500}

source bench/peers.sh
dir=$work/health
p=bwait
cleanup() {
  set +e
  peers_down "$dir" $p
  [ -d "$work/crun" ] && unshare -m --propagation private bash "$work/crun-ns.sh" crun --root "$work/crun" delete --force w >/dev/null 2>&1
  peers_cleanup
}
trap cleanup EXIT
peers_start

mkdir -p "$dir"
{
  echo "services:"
  for i in 0 1 2 3 4; do
    for tier in db app; do
      echo "  $tier$i:"
      echo "    image: localhost/busybox:bench"
      echo "    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; sleep 3600 & wait\"]"
      echo "    healthcheck:"
      echo "      test: [\"CMD\", \"true\"]"
      echo "      interval: ${interval_ms}ms"
      echo "      timeout: 5s"
      echo "      retries: 3"
      if [ $tier = app ]; then
        echo "    depends_on:"
        echo "      db$i: {condition: service_healthy}"
      fi
    done
  done
} >"$dir/compose.yaml"

docker_all_healthy() {
  docker-compose -p $p up -d >/dev/null 2>&1 || return 1
  until [ "$(docker ps -q --filter label=com.docker.compose.project=$p --filter health=healthy | wc -l)" = 10 ]; do
    sleep 0.02
  done
}

cd "$dir"
for e in "${engines[@]}"; do
  engine_cmd "$e" $p
  for ((r = 0; r < runs; r++)); do
    echo "up, all healthy: $e, run $((r + 1))/$runs" >&2
    case $e in
      berth) measure "$e" 10 "up, all healthy" "${c[@]}" up -d --wait ;;
      docker-compose) measure "$e" 10 "up, all healthy" docker_all_healthy ;;
      podman-compose) measure "$e" 10 "up -d (no healthchecks)" "${c[@]}" up -d ;;
    esac
    # The last run stays up for the exec measurement.
    ((r + 1 < runs)) && "${c[@]}" down -t 0 >/dev/null 2>&1
  done
done
echo "floor for 'up, all healthy': 2 x interval = $((2 * interval_ms)) ms"
report

# exec latency into the running app0 of each engine.
cmds=()
has_engine berth && cmds+=(-n "berth exec" "$berth --root $berth_root -p $p exec -T app0 true")
if has_engine docker-compose; then
  cmds+=(-n "docker exec" "docker exec $(docker ps -q --filter label=com.docker.compose.project=$p --filter label=com.docker.compose.service=app0) true")
fi
if has_engine podman-compose; then
  cmds+=(-n "podman exec" "podman exec ${p}_app0_1 true")
fi
# crun refuses hybrid cgroup hosts unless the cgroup2 mount looks empty: run it in a
# private mount namespace where an empty file hides unified/cgroup.controllers.
bundle=$work/bundle
mkdir -p "$bundle/rootfs"
tar -C "$bundle/rootfs" -xf "$work/busybox.tar"
crun spec -b "$bundle"
python3 - "$bundle/config.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["process"]["args"] = ["sleep", "3600"]
s["process"]["terminal"] = False
json.dump(s, open(sys.argv[1], "w"))
PY
: >"$work/empty"
cat >"$work/crun-ns.sh" <<NS
if [ -e /sys/fs/cgroup/unified/cgroup.controllers ]; then
  mount --bind "$work/empty" /sys/fs/cgroup/unified/cgroup.controllers
fi
exec "\$@"
NS
unshare -m --propagation private bash "$work/crun-ns.sh" crun --root "$work/crun" run -d -b "$bundle" w </dev/null >/dev/null
cmds+=(-n "crun exec" "unshare -m --propagation private bash $work/crun-ns.sh crun --root $work/crun exec w true")
cmds+=(-n "unshare+bash (crun's wrapper)" "unshare -m --propagation private bash $work/crun-ns.sh true")
hyperfine -N --style basic --warmup 3 --runs "$exec_runs" --export-json "$work/exec.json" "${cmds[@]}" >/dev/null
python3 - "$work/exec.json" <<'PY'
import json, statistics, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
med = {k: statistics.median(r["times"]) * 1e3 for k, r in res.items()}
wrap = med.pop("unshare+bash (crun's wrapper)")
med["crun exec"] -= wrap
b = med.get("berth exec")
print(f"{'exec latency':<14} {'median ms':>10} {'vs berth':>9}")
for k, v in med.items():
    print(f"{k:<14} {v:10.2f} {v / b if b else 0:8.2f}x")
print(f"(crun exec: median minus its unshare wrapper, {wrap:.2f} ms)")
PY
