#!/usr/bin/env bash
# create + start + wait + delete of /bin/true in a busybox bundle: berth-runtime against
# `crun run` and `runc run` on the same bundle, in the same run, printed as ratios; then
# berth's own split of the time (BERTH_RUNTIME_TIMING). Needs root, hyperfine, runc, crun.
# `berth-reexec` is berth with the helper re-executed (BERTH_RUNTIME_REEXEC=1), as every
# create and exec did before a single-threaded caller forked it (and now clones the
# init itself, with no helper: the split's `helper` is then that clone).
#
#   runtime/benches/runtime.sh            # RUNS=50 by default
#   SECCOMP=0 runtime/benches/runtime.sh  # without docker's seccomp profile
#   TMPFS=1 runtime/benches/runtime.sh    # the three runtimes' state dirs on a tmpfs, as
#                                         # /run is on most hosts (here /tmp and /run are
#                                         # ext4, whose inode allocation dominates otherwise)
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-50}
if [ -z "${BIN:-}" ]; then
    cargo build --release -q -p berth-runtime
    BIN=$PWD/target/release/berth-runtime
fi
W=$(mktemp -d /tmp/berth-runtime-bench.XXXXXX)
cleanup() {
    for r in berth crun runc; do
        for id in b c r; do
            case $r in
                berth) "$BIN" --root "$W/berth" delete --force $id >/dev/null 2>&1 || true ;;
                *) $r --root "$W/$r" delete --force $id >/dev/null 2>&1 || true ;;
            esac
        done
    done
    rm -rf "$W"
}
trap cleanup EXIT

B=$W/bundle
mkdir -p "$B/rootfs/bin" "$B/rootfs/proc" "$B/rootfs/sys" "$B/rootfs/dev" "$B/rootfs/etc" "$B/rootfs/tmp"
cp /bin/busybox "$B/rootfs/bin/busybox"
ln -s busybox "$B/rootfs/bin/true"
"$BIN" spec | SECCOMP=${SECCOMP:-1} python3 -c '
import json, os, sys
s = json.load(sys.stdin)
s["process"]["args"] = ["/bin/true"]
if os.environ["SECCOMP"] == "0":
    del s["linux"]["seccomp"]
print(json.dumps(s, indent=1))' >"$B/config.json"
echo "bundle: busybox rootfs, /bin/true, docker defaults (caps, masked paths, devices), seccomp=${SECCOMP:-1}, runs=$RUNS, state on $([ "${TMPFS:-0}" = 1 ] && echo tmpfs || echo "$(stat -f -c %T /tmp)")"
: >"$W/empty"

for tool in hyperfine runc crun; do
    command -v $tool >/dev/null || { echo "missing $tool" >&2; exit 1; }
done

# crun refuses hybrid cgroup hosts ("cgroups in hybrid mode not supported", RUNTIME.md §1.7)
# unless the cgroup2 mount looks empty: run all three in one private mount namespace where
# an empty file hides unified/cgroup.controllers, so they see the same host.
cat >"$W/inner.sh" <<INNER
set -e
if [ "${TMPFS:-0}" = 1 ]; then
    for r in berth crun runc; do mkdir -p "$W/\$r" && mount -t tmpfs -o mode=0700 tmpfs "$W/\$r"; done
fi
if [ -e /sys/fs/cgroup/unified/cgroup.controllers ]; then
    mount --bind "$W/empty" /sys/fs/cgroup/unified/cgroup.controllers
fi
cd "$B"
hyperfine -N --style basic --warmup 5 --runs $RUNS --export-json "$W/h.json" \
    -n floor '/bin/true' \
    -n berth "$BIN --root $W/berth run b" \
    -n crun "crun --root $W/crun run c" \
    -n runc "runc --root $W/runc run r" >/dev/null
BERTH_RUNTIME_REEXEC=1 hyperfine -N --style basic --warmup 5 --runs $RUNS --export-json "$W/h2.json" \
    -n berth-reexec "$BIN --root $W/berth run b" >/dev/null
for i in \$(seq 1 30); do BERTH_RUNTIME_TIMING=1 "$BIN" --root "$W/berth" run b 2>>"$W/split.txt"; done
for i in \$(seq 1 30); do BERTH_RUNTIME_REEXEC=1 BERTH_RUNTIME_TIMING=1 "$BIN" --root "$W/berth" run b 2>>"$W/split2.txt"; done
INNER
unshare -m --propagation private bash "$W/inner.sh"

python3 - "$W/h.json" "$W/split.txt" "$W/h2.json" "$W/split2.txt" <<'PY'
import json, statistics, sys
res = {r["command"]: r for f in (sys.argv[1], sys.argv[3]) for r in json.load(open(f))["results"]}
med = lambda k: statistics.median(res[k]["times"]) * 1e3
mean = lambda k: res[k]["mean"] * 1e3
print(f"{'':8} {'mean ms':>9} {'median ms':>10} {'vs berth':>9}")
for k in ["floor", "berth", "berth-reexec", "crun", "runc"]:
    print(f"{k:8} {mean(k):9.2f} {med(k):10.2f} {med(k) / med('berth'):8.2f}x")
print(f"berth = floor + {med('berth') - med('floor'):.2f} ms (median); crun/berth = {med('crun') / med('berth'):.2f}, runc/berth = {med('runc') / med('berth'):.2f}")
split = lambda f: [dict(kv.split("=") for kv in l.split()[1:]) for l in open(f) if l.startswith("timing_us")]
rows, rows2 = split(sys.argv[2]), split(sys.argv[4])
if rows and rows2:
    print(f"berth split over {len(rows)} runs, median µs (helper forked, re-executed):")
    for k in rows[0]:
        m = lambda rs: statistics.median(int(r[k]) for r in rs)
        print(f"  {k:11} {m(rows):8.0f} {m(rows2):8.0f}")
PY
