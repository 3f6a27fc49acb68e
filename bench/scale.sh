#!/usr/bin/env bash
# How berth's cost grows with the number of services (issue 14), in one run:
#   - `up -d`, no-op `up -d` and `down` of N busybox services (default 10 50 100 200),
#     wall time per container, CPU-seconds (user, system) of the command and of
#     the whole host (the daemonized supervisors' and runtime helpers' included);
#   - the per-container supervisor's RSS and PSS (smaps_rollup) beside
#     containerd-shim's (docker) and conmon's (podman), when those run here;
#   - ratios to docker-compose at the sizes in DC_SIZES (default 10 50).
# Once with --root (a temp dir: ext4 for the root, <root>/run for the run dir) and
# once with the default root and run dir (/var/lib/berth, /run/berth) as users
# have them (MODES="root default" by default). MODES may add `tmpfs`: a temp
# --root with --run-dir on a tmpfs the bench mounts (and unmounts), as on a
# host whose /run is tmpfs (systemd's default; not this kind of VM, where /run
# is the root's ext4).
#
# usage: bench/scale.sh [SIZES...]    env: RUNS=1 DC_SIZES="10 50" MODES="root default" BERTH=path
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("${@:-10 50 100 200}")
read -r -a sizes <<<"${sizes[*]}"
read -r -a dc_sizes <<<"${DC_SIZES:-10 50}"
read -r -a modes <<<"${MODES:-root default}"
runs=${RUNS:-1}
ENGINES=${ENGINES:-berth docker-compose}
export ENGINES

source bench/peers.sh
# BERTH=PATH measures another build (main's, for a before/after pair in one
# window) with the same root, image and peers.
berth=${BERTH:-$berth}
projects=()
cleanup() {
  set +e
  for p in "${projects[@]}"; do
    local dir=${p%%|*} name=${p#*|}
    (cd "$dir" && "$berth" -p "$name" down -t 0 >/dev/null 2>&1)
    (cd "$dir" && "$berth" --root "$berth_root" -p "$name" down -t 0 >/dev/null 2>&1)
    [ -n "${tmpfs_run:-}" ] && (cd "$dir" && "$berth" --root "$work/berth-tmpfs" --run-dir "$tmpfs_run" -p "$name" down -t 0 >/dev/null 2>&1)
    (cd "$dir" && docker-compose -p "$name" down -t 0 >/dev/null 2>&1)
  done
  podman rm -f -t 0 berthbench-c0 berthbench-c1 berthbench-c2 >/dev/null 2>&1
  "$berth" image rm localhost/busybox:bench >/dev/null 2>&1
  [ -n "${tmpfs_run:-}" ] && { umount "$tmpfs_run" || umount -l "$tmpfs_run"; }
  peers_cleanup
}
trap cleanup EXIT
peers_start
# The default root needs the image too.
has_engine berth && "$berth" image import "$work/busybox.tar" localhost/busybox:bench >/dev/null
tmpfs_run=""
if [[ " ${modes[*]} " == *" tmpfs "* ]]; then
  mkdir -p "$work/run-tmpfs"
  mount -t tmpfs -o mode=0700 berth-bench "$work/run-tmpfs"
  tmpfs_run=$work/run-tmpfs
  "$berth" --root "$work/berth-tmpfs" --run-dir "$tmpfs_run" image import "$work/busybox.tar" localhost/busybox:bench >/dev/null
fi

gen() { # gen DIR N
  mkdir -p "$1"
  {
    echo "services:"
    for ((i = 0; i < $2; i++)); do
      echo "  s$i:"
      echo "    image: localhost/busybox:bench"
      echo "    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; sleep 3600 & wait\"]"
    done
  } >"$1/compose.yaml"
}

# The host's CPU time so far, user and system, in seconds (/proc/stat).
host_cpu() {
  awk -v hz="$(getconf CLK_TCK)" '/^cpu / {printf "%.2f %.2f\n", ($2 + $3) / hz, ($4 + $6 + $7) / hz}' /proc/stat
}

# Runs CMD; appends "MODE|N|OP|wall|user|sys|host user|host sys" to $work/scale.txt.
# user/sys are the command's own (and its waited-for children's); the host's
# columns count every process, the daemonized supervisors and their runtime
# helpers included (and whatever else runs on the host meanwhile).
timed() { # timed MODE N OP CMD...
  local tag="$1|$2|$3" u0 s0 u1 s1 t0 t1
  shift 3
  read -r u0 s0 < <(host_cpu)
  # Wall time from EPOCHREALTIME (microseconds): time's %e counts hundredths,
  # too coarse for a no-op `up` of a few milliseconds.
  t0=$EPOCHREALTIME
  /usr/bin/time -f "%U|%S" -o "$work/t" "$@" >/dev/null 2>"$work/err" ||
    { echo "failed: $* ($(tail -3 "$work/err"))" >&2; return 1; }
  t1=$EPOCHREALTIME
  read -r u1 s1 < <(host_cpu)
  echo "$tag|$(awk "BEGIN {print $t1 - $t0}")|$(cat "$work/t")|$(awk "BEGIN {print $u1 - $u0}")|$(awk "BEGIN {print $s1 - $s0}")" >>"$work/scale.txt"
}

# Mean RSS and PSS (KiB) of the processes whose command line matches PATTERN.
mem_of() { # mem_of LABEL PATTERN
  local rss=0 pss=0 n=0 pid
  for pid in $(pgrep -f -- "$2" || true); do
    [ -r "/proc/$pid/smaps_rollup" ] || continue
    read -r r p < <(awk '/^Rss:/ {r=$2} /^Pss:/ {p=$2} END {print r, p}' "/proc/$pid/smaps_rollup")
    rss=$((rss + r)) pss=$((pss + p)) n=$((n + 1))
  done
  ((n)) && echo "$1|$n|$((rss / n))|$((pss / n))" >>"$work/mem.txt"
  return 0
}

# berth's per-container processes: the supervisor (the small berth-supervisor
# binary, or berth itself when that is not installed beside it) and its guard (a
# fork of it that takes over if it is killed), each on its own line, and the two
# together per container, as a container costs them.
# Only this run's: other roots' supervisors may run on the same host.
supervisor_mem() { # supervisor_mem MODE ROOT
  local pat="berth(-supervisor)? --root $2 .*supervise [0-9a-f]{64}" sup=() guard=() pid ppid
  for pid in $(pgrep -f -- "$pat" || true); do
    ppid=$(awk '{print $4}' "/proc/$pid/stat" 2>/dev/null) || continue
    # /proc/PID/cmdline separates the arguments with NULs, pgrep -f with spaces.
    if tr '\0' ' ' <"/proc/$ppid/cmdline" 2>/dev/null | grep -qE -- "$pat"; then
      guard+=("$pid")
    else
      sup+=("$pid")
    fi
  done
  local exe
  exe=$(basename "$(readlink "/proc/${sup[0]:-self}/exe" 2>/dev/null)")
  pids_mem "berth supervisor: $exe ($1)" "${sup[@]}"
  pids_mem "berth supervisor's guard ($1)" "${guard[@]}"
  pids_mem "berth per container, both ($1)" "${sup[@]}" "${guard[@]}" "/${#sup[@]}"
}

# Mean RSS and PSS (KiB) of PIDS; a last argument /N divides the sums by N instead.
pids_mem() { # pids_mem LABEL PIDS... [/N]
  local label=$1 rss=0 pss=0 n=0 div="" pid r p
  shift
  for pid in "$@"; do
    case $pid in /*) div=${pid#/}; continue ;; esac
    [ -r "/proc/$pid/smaps_rollup" ] || continue
    read -r r p < <(awk '/^Rss:/ {r=$2} /^Pss:/ {p=$2} END {print r, p}' "/proc/$pid/smaps_rollup")
    rss=$((rss + r)) pss=$((pss + p)) n=$((n + 1))
  done
  [ -n "$div" ] && n=$div
  ((n)) && echo "$label|$n|$((rss / n))|$((pss / n))" >>"$work/mem.txt"
  return 0
}

for mode in "${modes[@]}"; do
  case $mode in
    root) b=("$berth" --root "$berth_root") ;;
    default) b=("$berth") ;;
    tmpfs) b=("$berth" --root "$work/berth-tmpfs" --run-dir "$tmpfs_run") ;;
  esac
  for n in "${sizes[@]}"; do
    for ((r = 0; r < runs; r++)); do
      echo "berth ($mode), $n services, run $((r + 1))/$runs" >&2
      d="$work/$mode-s$n"
      gen "$d" "$n"
      projects+=("$d|bs$n")
      (
        cd "$d"
        timed "$mode" "$n" "up -d" "${b[@]}" -p "bs$n" up -d
        timed "$mode" "$n" "no-op up -d" "${b[@]}" -p "bs$n" up -d
        if [ "$n" = "${sizes[1]:-${sizes[0]}}" ] && [ "$r" = 0 ]; then
          case $mode in
            root) supervisor_mem "$mode" "$berth_root" ;;
            tmpfs) supervisor_mem "$mode" "$work/berth-tmpfs" ;;
            *) supervisor_mem "$mode" /var/lib/berth ;;
          esac
        fi
        timed "$mode" "$n" "down" "${b[@]}" -p "bs$n" down
      )
    done
  done
done

if has_engine docker-compose; then
  for n in "${dc_sizes[@]}"; do
    echo "docker-compose, $n services" >&2
    d="$work/dc-s$n"
    gen "$d" "$n"
    projects+=("$d|dc$n")
    (
      cd "$d"
      timed docker-compose "$n" "up -d" docker-compose -p "dc$n" up -d
      timed docker-compose "$n" "no-op up -d" docker-compose -p "dc$n" up -d
      [ "$n" = "${dc_sizes[0]}" ] && mem_of "containerd-shim (docker)" "containerd-shim"
      # docker-compose 1.29 sometimes fails to remove a network with "active
      # endpoints"; that costs its `down` row, not the whole table.
      timed docker-compose "$n" "down" docker-compose -p "dc$n" down || true
    )
  done
fi

# conmon, when podman is installed: three containers, as podman runs them (from the
# same busybox image, imported here: ENGINES leaves podman-compose out).
if command -v podman >/dev/null && command -v conmon >/dev/null; then
  podman image exists localhost/busybox:bench ||
    podman import "$work/busybox.tar" localhost/busybox:bench >/dev/null
  for i in 0 1 2; do
    # shellcheck disable=SC2086
    podman run -d --network none --name "berthbench-c$i" $podman_args localhost/busybox:bench sleep 3600 >/dev/null 2>&1 || true
  done
  mem_of "conmon (podman)" "^/usr/bin/conmon "
  podman rm -f -t 0 berthbench-c0 berthbench-c1 berthbench-c2 >/dev/null 2>&1 || true
  podman rmi -f localhost/busybox:bench >/dev/null 2>&1 || true
fi

# Where the state lives decides much of the cost: on ext4 without a journal
# (this kind of VM) a freed inode is not reused for 5 s to 5 min and every new
# inode scans past the ones a `down` just freed (ext4's recently_deleted).
fs_of() { # fs_of DIR
  local dev
  dev=$(df --output=source "$1" 2>/dev/null | tail -1)
  echo "$1: $(stat -f -c %T "$1" 2>/dev/null)$(command -v dumpe2fs >/dev/null && [ -b "$dev" ] &&
    { dumpe2fs -h "$dev" 2>/dev/null | grep -q has_journal && echo ", journal" || echo ", no journal"; })"
}
echo "state: $(fs_of "$work"); $(fs_of /var/lib); $(fs_of /run)"
python3 - "$work/scale.txt" "$work/mem.txt" <<'PY'
import sys, statistics, os
rows = {}
for line in open(sys.argv[1]):
    mode, n, op, wall, user, sys_, huser, hsys = line.strip().split("|")
    rows.setdefault((mode, op, int(n)), []).append(tuple(map(float, (wall, user, sys_, huser, hsys))))
med = {k: tuple(statistics.median(x[i] for x in v) for i in range(5)) for k, v in rows.items()}
ms = lambda s: f"{s * 1000:.1f} ms" if s < 0.1 else f"{s * 1000:.0f} ms"
print(f"{'engine/mode':<16} {'op':<12} {'N':>4} {'wall':>9} {'per ctr':>9} {'user':>7} {'sys':>7} {'host usr':>9} {'host sys':>9} {'vs docker-compose':>18}")
for (mode, op, n), (w, u, s, hu, hs) in sorted(med.items(), key=lambda kv: (kv[0][0] == "docker-compose", kv[0][0], kv[0][1], kv[0][2])):
    dc = med.get(("docker-compose", op, n))
    ratio = f"{dc[0] / w:.1f}x faster" if dc and mode != "docker-compose" else ""
    print(f"{mode:<16} {op:<12} {n:>4} {ms(w):>9} {w / n * 1000:>7.2f}ms {u:>6.2f}s {s:>6.2f}s {hu:>8.2f}s {hs:>8.2f}s {ratio:>18}")
# Flatness: per-container up cost at the largest size against the smallest.
for mode in sorted({k[0] for k in med if k[0] != "docker-compose"}):
    ns = sorted(k[2] for k in med if k[0] == mode and k[1] == "up -d")
    if len(ns) > 1:
        lo, hi = med[(mode, "up -d", ns[0])][0] / ns[0], med[(mode, "up -d", ns[-1])][0] / ns[-1]
        print(f"{mode}: up -d per container at {ns[-1]} = {hi / lo:.2f} x the cost at {ns[0]}")
if os.path.exists(sys.argv[2]):
    print(f"\n{'per-container process':<44} {'n':>3} {'RSS':>10} {'PSS':>10}")
    for line in open(sys.argv[2]):
        label, n, rss, pss = line.strip().split("|")
        print(f"{label:<44} {n:>3} {int(rss) / 1024:>7.2f} MiB {int(pss) / 1024:>7.2f} MiB")
PY
