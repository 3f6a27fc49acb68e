#!/usr/bin/env bash
# Rootless berth against rootful berth (and rootless podman, when it is installed:
# scripts/setup-bench), on the same 10-service busybox stack: `up -d` wall time,
# published-port throughput (a 256 MiB HTTP GET by curl on the host's 127.0.0.1
# through the published port: DNAT for root, pasta (and, second, slirp4netns)
# then DNAT in the user's network namespace rootless), and service-to-service throughput over the
# project network (the same GET from one container to another by service name).
# A throwaway user with subordinate ids runs the rootless side; it is removed at
# the end. /dev/net/tun is opened to users (pasta needs it) and restored.
#
# usage: bench/rootless.sh            (RUNS=5 SERVICES=10 BERTH=target/release/berth)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
n=${SERVICES:-10}
berth=${BERTH:-target/release/berth}
[ -x "$berth" ] || berth=target/debug/berth
berth=$(realpath "$berth")
user=brlbench$$
# Both state roots on the same filesystem (/home's), so that only the mode differs.
work=$(mktemp -d /home/berth-rootless-bench.XXXXXX)
home=/home/$user
tun_mode=$(stat -c %a /dev/net/tun)
chmod 0666 /dev/net/tun
root_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
user_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

cleanup() {
  set +e
  chmod "$tun_mode" /dev/net/tun
  (cd "$work/p" && "$berth" --root "$work/root" down -v -t 0 >/dev/null 2>&1)
  if id "$user" >/dev/null 2>&1; then
    (cd "$home/p" && runuser -u "$user" -- env -i HOME="$home" PATH=/usr/bin:/bin "$home/berth" down -v -t 0 >/dev/null 2>&1)
    pkill -KILL -U "$(id -u "$user")"
    sleep 0.5
    userdel -r "$user" >/dev/null 2>&1
  fi
  rm -rf "$work"
}
trap cleanup EXIT

useradd -m -s /bin/sh "$user"
bench/busybox-rootfs.sh "$work/busybox.tar"
install -m 0755 "$berth" "$home/berth"
# The small supervisor beside berth, as cargo builds it (a stale one would be used otherwise).
[ -x "$(dirname "$berth")/berth-supervisor" ] && install -m 0755 "$(dirname "$berth")/berth-supervisor" "$home/berth-supervisor"
install -m 0644 -o "$user" "$work/busybox.tar" "$home/busybox.tar"

gen() { # gen DIR PORT
  mkdir -p "$1"
  {
    echo "services:"
    echo "  web:"
    echo "    image: localhost/busybox:bench"
    echo "    ports: [\"127.0.0.1:$2:8080\"]"
    # The file lives in a tmpfs: the disk under either state root is not measured.
    echo "    tmpfs: [\"/srv:size=300m\"]"
    echo "    command: [\"sh\", \"-c\", \"dd if=/dev/zero of=/srv/big bs=1M count=256 2>/dev/null; exec httpd -f -p 8080 -h /srv\"]"
    for ((i = 1; i < n; i++)); do
      echo "  s$i:"
      echo "    image: localhost/busybox:bench"
      echo "    command: [\"sleep\", \"3600\"]"
    done
  } >"$1/compose.yaml"
}
gen "$work/p" "$root_port"
gen "$home/p" "$user_port"
chown -R "$user:" "$home/p"

as_root() { (cd "$work/p" && "$berth" --root "$work/root" "$@"); }
as_user() { (cd "$home/p" && runuser -u "$user" -- env -i HOME="$home" USER="$user" PATH=/usr/bin:/bin "$home/berth" "$@"); }
# The same user with slirp4netns instead of pasta (what berth uses where pasta is not installed).
as_user_slirp() { (cd "$home/p" && runuser -u "$user" -- env -i HOME="$home" USER="$user" PATH=/usr/bin:/bin BERTH_ROOTLESS_NETWORK_CMD=slirp4netns "$home/berth" "$@"); }

as_root image import "$work/busybox.tar" localhost/busybox:bench >/dev/null
as_user image import "$home/busybox.tar" localhost/busybox:bench >/dev/null

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

measure_up() { # measure_up FN -> median ms of `up -d`
  local fn=$1 t0 t1
  for ((r = 0; r < runs; r++)); do
    t0=$(now)
    "$fn" up -d >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
    t1=$(now)
    echo $(((t1 - t0) / 1000000))
    "$fn" down -t 0 >/dev/null 2>&1
  done | median
}

measure_get() { # measure_get FN -> MiB/s of a 256 MiB GET, s1 -> web
  local fn=$1 t0 t1
  "$fn" up -d >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  # Wait until web serves the whole file (dd runs first).
  for _ in $(seq 100); do
    "$fn" exec s1 sh -c 'wget -qO- http://web:8080/big | wc -c' 2>/dev/null | grep -q '^268435456$' && break
    sleep 0.2
  done
  t0=$(now)
  "$fn" exec s1 sh -c 'wget -qO /dev/null http://web:8080/big' >/dev/null
  t1=$(now)
  "$fn" down -t 0 >/dev/null 2>&1
  echo $((256 * 1000000000 / (t1 - t0)))
}

measure_port() { # measure_port FN PORT -> median MiB/s of RUNS 256 MiB GETs from the host
  local fn=$1 port=$2 t0 t1
  "$fn" up -d >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  for _ in $(seq 100); do
    [ "$(curl -s -o /dev/null -w '%{size_download}' "http://127.0.0.1:$port/big")" = 268435456 ] && break
    sleep 0.2
  done
  # The median of RUNS GETs: one GET on a shared machine is noisy.
  # A GET that did not bring the whole file counts 0 (not a fast transfer).
  for ((r = 0; r < runs; r++)); do
    t0=$(now)
    got=$(curl -s -o /dev/null -w '%{size_download}' "http://127.0.0.1:$port/big" || true)
    t1=$(now)
    if [ "$got" = 268435456 ]; then echo $((256 * 1000000000 / (t1 - t0))); else echo 0; fi
  done | median
  "$fn" down -t 0 >/dev/null 2>&1
}

root_up=$(measure_up as_root)
user_up=$(measure_up as_user)
root_get=$(measure_get as_root)
user_get=$(measure_get as_user)
root_port_mib=$(measure_port as_root "$root_port")
user_port_mib=$(measure_port as_user "$user_port")
slirp_port_mib=$(measure_port as_user_slirp "$user_port")
printf 'up -d, %d services (median of %d): rootful %d ms, rootless %d ms, ratio %.2f (target <= 1.5)\n' \
  "$n" "$runs" "$root_up" "$user_up" "$(echo "$user_up / $root_up" | bc -l)"
printf 'published port 127.0.0.1 -> container, GET 256 MiB: rootful %d MiB/s, rootless %d MiB/s, ratio %.2f (target >= 0.8)\n' \
  "$root_port_mib" "$user_port_mib" "$(echo "$user_port_mib / $root_port_mib" | bc -l)"
printf 'published port, rootless with slirp4netns: %d MiB/s, ratio %.2f to rootful (no target)\n' \
  "$slirp_port_mib" "$(echo "$slirp_port_mib / $root_port_mib" | bc -l)"
printf 'service-to-service GET 256 MiB: rootful %d MiB/s, rootless %d MiB/s, ratio %.2f (no target)\n' \
  "$root_get" "$user_get" "$(echo "$user_get / $root_get" | bc -l)"

if command -v podman >/dev/null && command -v podman-compose >/dev/null; then
  runuser -u "$user" -- env -i HOME="$home" USER="$user" PATH=/usr/bin:/bin podman import "$home/busybox.tar" localhost/busybox:bench >/dev/null
  pod() { (cd "$home/p" && runuser -u "$user" -- env -i HOME="$home" USER="$user" PATH=/usr/bin:/bin podman-compose "$@"); }
  pod_up=$(measure_up pod)
  printf 'rootless podman-compose up -d: %d ms\n' "$pod_up"
  pod_port=$(measure_port pod "$user_port" || echo 0)
  printf 'rootless podman published port, GET 256 MiB: %d MiB/s, ratio %.2f to rootful\n' \
    "$pod_port" "$(echo "$pod_port / $root_port_mib" | bc -l)"
else
  echo "rootless podman: not installed (scripts/setup-bench), skipped"
fi
