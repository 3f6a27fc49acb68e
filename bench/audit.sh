#!/usr/bin/env bash
# The container defaults side by side: the probes of research/SECURITY-AUDIT.md that
# issue 13 fixed (cgroup view, netns sysctls, i386 ABI, adjtimex, tty ownership, limits
# of the launching shell, working_dir, /etc files under a volume, groups, /dev modes)
# run in berth and, when dockerd is installed, in a private docker daemon. Prints one
# table. berth and docker's client run from a shell under `ulimit -Sn 512`, `nice -n 7`
# and oom_score_adj 500, which must not reach the containers (dockerd starts as init
# would start it).
#
#   bench/audit.sh       (BERTH=path/to/berth skips the release build; dockerd comes
#                        from scripts/setup-bench, without it the column is skipped)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${BERTH:-}" ]; then
  cargo build --release --quiet
  BERTH=$PWD/target/release/berth
fi
work=$(mktemp -d /tmp/berth-audit.XXXXXX)
root=$work/berth
docker=
command -v dockerd >/dev/null && command -v docker >/dev/null && docker=yes
export DOCKER_HOST=unix://$work/docker.sock
tables_before=$(nft list tables 2>/dev/null || true)

cleanup() {
  set +e
  (cd "$work/p" && "$BERTH" --root "$root" down -v -t 0 >/dev/null 2>&1)
  if [ -n "$docker" ] && [ -f "$work/docker.pid" ]; then
    docker rm -f -v $(docker ps -aq) >/dev/null 2>&1
    docker volume rm audit-etc >/dev/null 2>&1
    kill "$(cat "$work/docker.pid")"
    for _ in $(seq 50); do [ -e "$work/docker.pid" ] || break; sleep 0.1; done
    umount -R "$work/docker-data" 2>/dev/null
    nft list tables 2>/dev/null | while read -r _ family name; do
      grep -qx "table $family $name" <<<"$tables_before" || nft delete table "$family" "$name"
    done
  fi
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/p/probe"
bench/busybox-rootfs.sh "$work/busybox.tar"
"$BERTH" --root "$root" image import "$work/busybox.tar" localhost/busybox:audit >/dev/null

# A static i386 "hello": write(1, msg, 16) and exit(0) through int 0x80.
python3 - "$work/p/probe/hello32" <<'PY'
import struct, sys
base, off, msg = 0x08048000, 84, b"hello from i386\n"
def code(at):
    return (b"\xb8" + struct.pack("<I", 4) + b"\xbb" + struct.pack("<I", 1) + b"\xb9"
            + struct.pack("<I", at) + b"\xba" + struct.pack("<I", len(msg)) + b"\xcd\x80"
            + b"\xb8" + struct.pack("<I", 1) + b"\x31\xdb\xcd\x80")
c = code(base + off + len(code(0)))
total = off + len(c) + len(msg)
elf = (b"\x7fELF\x01\x01\x01" + b"\0" * 9
       + struct.pack("<HHIIIIIHHHHHH", 2, 3, 1, base + off, 52, 0, 0, 52, 32, 1, 0, 0, 0)
       + struct.pack("<IIIIIIII", 1, 0, base, base, total, total, 5, 0x1000))
open(sys.argv[1], "wb").write(elf + c + msg)
PY
chmod 755 "$work/p/probe" "$work/p/probe/hello32"

# The probes, run inside the containers: "name|value" lines.
cat >"$work/p/probe/probe.sh" <<'SH'
case $1 in
root)
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    echo "cgroup: memory limit (64m)|$(cat /sys/fs/cgroup/memory.max 2>&1)"
    echo "cgroup: cpu quota (cpus 0.5)|$(cut -d' ' -f1 /sys/fs/cgroup/cpu.max 2>&1)"
    echo "cgroup: pids.max (100)|$(cat /sys/fs/cgroup/pids.max 2>&1)"
    depth=1
  else
    echo "cgroup: memory limit (64m)|$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>&1)"
    echo "cgroup: cpu quota (cpus 0.5)|$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>&1)"
    echo "cgroup: pids.max (100)|$(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || echo absent)"
    depth=2
  fi
  echo "cgroup: other cgroups visible|$(find /sys/fs/cgroup -mindepth $depth -type d 2>/dev/null | wc -l)"
  echo "sysctl ip_unprivileged_port_start|$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)"
  echo "sysctl ping_group_range|$(tr '\t' ' ' </proc/sys/net/ipv4/ping_group_range)"
  echo "i386 static binary|$(/probe/hello32 2>&1 | tr -d '\n'; echo " (exit $?)")"
  echo "adjtimex(&tx) read|$(adjtimex >/dev/null 2>&1 && echo allowed || echo refused)"
  echo "unshare -U (refused)|$(unshare -U true 2>/dev/null && echo allowed || echo refused)"
  echo "Groups: as root|$(grep '^Groups:' /proc/self/status | cut -f2)"
  for p in 1 self; do
    who=$([ $p = 1 ] && echo "pid 1" || echo exec)
    echo "nofile soft/hard ($who)|$(grep 'Max open files' /proc/$p/limits | awk '{print $4 "/" $5}')"
    echo "nice ($who)|$(awk '{print $19}' /proc/$p/stat)"
    echo "oom_score_adj ($who)|$(cat /proc/$p/oom_score_adj)"
  done
  ;;
user)
  nc -l -p 80 >/dev/null 2>&1 &
  sleep 0.3
  echo "uid 65534 binds port 80|$(kill $! 2>/dev/null && echo yes || echo no)"
  echo "uid 65534 writes /dev/null|$( (echo x >/dev/null) 2>/dev/null && echo yes || echo no)"
  echo "Groups: as 65534|$(grep '^Groups:' /proc/self/status | cut -f2)"
  echo "/dev/null mode|$(stat -c %A /dev/null)"
  ;;
tty)
  echo "tty: pty owner (uid 65534)|$(stat -c %u "$(tty)")"
  echo "tty: /dev/tty mode|$(stat -c %a /dev/tty)"
  echo "tty: 65534 opens /dev/tty|$( (echo x >/dev/tty) 2>/dev/null && echo yes || echo no)"
  ;;
esac
SH

cat >"$work/p/compose.yaml" <<'YAML'
services:
  root:
    image: localhost/busybox:audit
    mem_limit: 64m
    cpus: 0.5
    pids_limit: 100
    volumes: ["./probe:/probe:ro"]
    command: ["sleep", "3600"]
  user:
    image: localhost/busybox:audit
    user: "65534:65534"
    volumes: ["./probe:/probe:ro"]
    command: ["sleep", "3600"]
  tty:
    image: localhost/busybox:audit
    user: "65534:65534"
    tty: true
    volumes: ["./probe:/probe:ro"]
    command: ["sh", "-c", "sh /probe/probe.sh tty >/tmp/out 2>&1; sleep 3600"]
  workdir:
    image: localhost/busybox:audit
    working_dir: /missing/sub
    command: ["sleep", "3600"]
  etcvol:
    image: localhost/busybox:audit
    hostname: audit
    volumes: ["audit-etc:/etc"]
    command: ["sleep", "3600"]
volumes:
  audit-etc: {}
YAML

# Runs "$@" as a shell with a small soft nofile, nice 7 and oom_score_adj 500 would.
constrained() {
  sh -c 'ulimit -Sn 512; echo 500 >/proc/self/oom_score_adj; exec nice -n 7 "$@"' sh "$@"
}

# Prints the probe lines for one engine: ENGINE_exec SERVICE CMD...
collect() { # collect EXEC
  local x=$1
  $x root sh /probe/probe.sh root
  $x user sh /probe/probe.sh user
  $x tty cat /tmp/out
  echo "missing working_dir|$($x workdir pwd 2>&1 | tail -1)"
  echo "/etc/hostname under a volume at /etc|$($x etcvol cat /etc/hostname 2>&1 | tail -1)"
}

berth_exec() { constrained "$BERTH" --root "$root" exec -T "$@"; }
(cd "$work/p" && constrained "$BERTH" --root "$root" up -d >/dev/null 2>&1) || true
sleep 0.5
(cd "$work/p" && collect berth_exec) >"$work/berth.txt" 2>&1 || true

if [ -n "$docker" ]; then
  # The daemon as init would start it: only its clients run from the constrained shell.
  echo "starting a private docker daemon" >&2
  dockerd --data-root "$work/docker-data" --exec-root "$work/docker-exec" \
    -H "$DOCKER_HOST" --pidfile "$work/docker.pid" --bridge=none --iptables=false \
    --ip6tables=false >"$work/dockerd.log" 2>&1 &
  for _ in $(seq 100); do docker info >/dev/null 2>&1 && break; sleep 0.1; done
  docker import "$work/busybox.tar" localhost/busybox:audit >/dev/null
  img=localhost/busybox:audit
  probe=(-v "$work/p/probe:/probe:ro")
  run() { constrained docker run -d --name "$@" >/dev/null 2>&1 || true; }
  run root --memory 64m --cpus 0.5 --pids-limit 100 "${probe[@]}" "$img" sleep 3600
  run user -u 65534:65534 "${probe[@]}" "$img" sleep 3600
  run tty -t -u 65534:65534 "${probe[@]}" "$img" sh -c 'sh /probe/probe.sh tty >/tmp/out 2>&1; sleep 3600'
  run workdir -w /missing/sub "$img" sleep 3600
  run etcvol -h audit -v audit-etc:/etc "$img" sleep 3600
  sleep 0.5
  docker_exec() { constrained docker exec "$@"; }
  collect docker_exec >"$work/docker.txt" 2>&1 || true
fi

python3 - "$work/berth.txt" "$work/docker.txt" <<'PY'
import os, sys
def load(p):
    rows = {}
    if os.path.exists(p):
        for line in open(p):
            if "|" in line:
                k, v = line.rstrip("\n").split("|", 1)
                rows[k] = v.strip()
    return rows
b, d = load(sys.argv[1]), load(sys.argv[2])
keys = list(b) + [k for k in d if k not in b]
have_docker = os.path.exists(sys.argv[2])
w = max(len(k) for k in keys) if keys else 10
print(f"{'probe':<{w}}  {'berth':<28} {'docker' if have_docker else 'docker (dockerd not installed)'}")
for k in keys:
    print(f"{k:<{w}}  {b.get(k, '-'):<28} {d.get(k, '-') if have_docker else ''}")
PY
