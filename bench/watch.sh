#!/usr/bin/env bash
# berth watch: edit-to-visible latency and a 5,000-file burst.
#
# 1. latency: a file in a watched `sync` directory is rewritten on the host
#    (EDITS times, new content each time); the clock stops when the new content
#    is read back at the container's path, through /proc/<init pid>/root (the
#    container's own mount namespace view: what a process in it reads).
#    p50/p95/p99/max over the edits, milliseconds.
# 2. burst: 5,000 files written into the watched directory in one go (a branch
#    switch); the clock stops when the last one is readable in the container.
#
# Targets (issue 15): p95 <= 50 ms, burst <= 1 s. The peer, `docker compose
# watch`, cannot run here (docker-compose 1.29 has no watch, Debian's docker
# 20.10 has no compose v2), so its documented floor is printed instead: a
# 500 ms quiet period after the last event (pkg/watch/debounce.go) plus an
# engine API round trip per container, for every edit and every burst.
#
# BERTH_WATCH_QUIET_MS=N runs the watcher with a fixed N ms quiet period
# (berth's before batches ended when the queue drained was 20).
#
# usage: bench/watch.sh           (EDITS=500, FILES=5000; BERTH=path to the binary)
set -euo pipefail
cd "$(dirname "$0")/.."
edits=${EDITS:-500}
files=${FILES:-5000}
berth=${BERTH:-target/release/berth}
[ -x "$berth" ] || berth=target/debug/berth
berth=$(realpath "$berth")

work=$(mktemp -d /tmp/berth-bench-watch.XXXXXX)
root=$work/root
proj=$work/bwatch
b() { (cd "$proj" && exec "$berth" --root "$root" "$@"); }
cleanup() {
  set +e
  [ -n "${wpid:-}" ] && kill -TERM "$wpid" 2>/dev/null && wait "$wpid" 2>/dev/null
  b down -t 0 >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

bash bench/busybox-rootfs.sh "$work/busybox.tar"
mkdir -p "$proj/src"
"$berth" --root "$root" image import "$work/busybox.tar" localhost/busybox:bench >/dev/null
cat > "$proj/compose.yaml" <<'YAML'
services:
  web:
    image: localhost/busybox:bench
    init: true
    command: ["sleep", "3600"]
    develop:
      watch:
        - path: ./src
          action: sync
          target: /app
YAML
b up -d >/dev/null 2>&1
fifo=$work/watch.out
mkfifo "$fifo"
# exec: $! is the watcher itself (a background shell would ignore the signal).
(cd "$proj" && exec "$berth" --root "$root" watch --no-up) > "$fifo" 2>&1 &
wpid=$!
exec 3<"$fifo"
while read -r line <&3; do [ "$line" = "Watch enabled" ] && break; done
# Keep draining the watcher's output so it never blocks on a full pipe.
cat <&3 >/dev/null &

pid=$(python3 -c 'import json,glob,sys; print(json.load(open((glob.glob(sys.argv[1]+"/run/containers/*/status.json")+glob.glob(sys.argv[1]+"/containers/*/status.json"))[0]))["pid"])' "$root")

python3 - "$proj/src" "/proc/$pid/root/app" "$edits" "$files" <<'PY'
import os, sys, time
src, ctr, edits, files = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

def read(p):
    try:
        with open(p, "rb") as f:
            return f.read()
    except OSError:
        return None

def await_content(p, want, limit=10.0):
    # Polls every 0.2 ms: a busy loop would take a core from the watcher it
    # measures (2 cores here), and 0.2 ms is well under what is measured.
    t0 = time.perf_counter()
    while read(p) != want:
        if time.perf_counter() - t0 > limit:
            sys.exit(f"timed out waiting for {p}")
        time.sleep(0.0002)
    return time.perf_counter()

lat = []
for i in range(edits):
    body = f"edit {i}\n".encode()
    t0 = time.perf_counter()
    with open(os.path.join(src, "f.txt"), "wb") as f:
        f.write(body)
    t1 = await_content(os.path.join(ctr, "f.txt"), body)
    lat.append((t1 - t0) * 1000)
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
print(f"latency over {edits} edits: p50 {q(0.50):.1f} ms  p95 {q(0.95):.1f} ms  p99 {q(0.99):.1f} ms  max {lat[-1]:.1f} ms")

d = os.path.join(src, "burst")
t0 = time.perf_counter()
os.mkdir(d)
for i in range(files):
    with open(os.path.join(d, f"f{i:05}"), "w") as f:
        f.write(f"{i}\n")
t_written = time.perf_counter()
last = os.path.join(ctr, "burst", f"f{files - 1:05}")
t1 = await_content(last, f"{files - 1}\n".encode(), 60)
# Every file, not just the last.
missing = [i for i in range(files) if read(os.path.join(ctr, "burst", f"f{i:05}")) != f"{i}\n".encode()]
print(f"burst of {files} files: written in {(t_written - t0) * 1000:.0f} ms, all visible {(t1 - t0) * 1000:.0f} ms after the first write ({(t1 - t_written) * 1000:.0f} ms after the last); missing {len(missing)}")
PY
echo "docker compose watch (not runnable here): floor >= 500 ms per edit and per burst (quiet period), plus an API round trip"
