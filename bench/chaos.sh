#!/usr/bin/env bash
# Randomised fault trials (issue 19): kill `up` and `down` at random moments, by
# pid and by process group; kill a random supervisor; kill the DNS responder;
# `down && up` at once with a DNS check. Every trial ends with `up -d --wait`,
# which must give the whole project back (checked from inside: DNS on both
# networks, the published port, a restart: always service restarting), and with
# `down`, after which nothing of this root may be left in the kernel.
# Prints, per kind of fault, how many trials converged (N/N).
#
# usage: bench/chaos.sh [TRIALS]     (TRIALS per kind, default 60; the quick
#        kinds get TRIALS/3). TIME_LIMIT=seconds stops starting new trials
#        (default 3600). BERTH=path picks the binary (default target/release/berth,
#        else target/debug/berth). SEED makes the random moments repeatable.
set -uo pipefail
cd "$(dirname "$0")/.."
trials=${1:-60}
quick=$(( trials / 3 > 0 ? trials / 3 : 1 ))
limit=${TIME_LIMIT:-3600}
RANDOM=${SEED:-$$}
berth=${BERTH:-}
if [ -z "$berth" ]; then
  if [ -x target/release/berth ]; then berth=$PWD/target/release/berth; else berth=$PWD/target/debug/berth; fi
fi
work=$(mktemp -d /tmp/berth-chaos.XXXXXX)
root=$work/root
proj=$work/proj
port=$(( 20000 + RANDOM % 20000 ))
start_time=$SECONDS
log=$work/chaos.log

b() { "$berth" --root "$root" "$@"; }
cleanup() {
  set +e
  (cd "$proj" && b down -v -t 0 >/dev/null 2>&1)
  # This root's processes only, by the pids berth recorded.
  for f in "$root"/run/containers/*/status.json; do
    [ -f "$f" ] || continue
    p=$(grep -o '"supervisor_pid": *[0-9]*' "$f" | grep -o '[0-9]*$'); [ -n "$p" ] && kill -9 "$p" 2>/dev/null
  done
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

mkdir -p "$proj"
bench/busybox-rootfs.sh "$work/busybox.tar"
b image import "$work/busybox.tar" localhost/busybox:chaos >/dev/null
cat >"$proj/compose.yaml" <<EOF
name: chaos
services:
  web:
    image: localhost/busybox:chaos
    command: ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www"]
    ports: ["127.0.0.1:$port:8080"]
    networks: [default, back]
  api:
    image: localhost/busybox:chaos
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    networks: [default, back]
  db:
    image: localhost/busybox:chaos
    command: ["sh", "-c", "echo start \$\$(date +%s) >> /data/starts.log; trap 'exit 0' TERM; sleep 3600 & wait"]
    volumes: ["dbdata:/data"]
  cache:
    image: localhost/busybox:chaos
    command: ["sh", "-c", "touch /tmp/ready; trap 'exit 0' TERM; sleep 3600 & wait"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 1s
      start_period: 5s
      start_interval: 200ms
  app:
    image: localhost/busybox:chaos
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    depends_on:
      cache: {condition: service_healthy}
  flaky:
    image: localhost/busybox:chaos
    restart: always
    command: ["sh", "-c", "sleep 1; exit 0"]
networks:
  back:
volumes:
  dbdata:
EOF

json_field() { # json_field KEY FILE: every string or number value of KEY
  grep -o "\"$1\": *\"\?[^\",}]*" "$2" | sed 's/.*: *"\?//'
}

# What this root put into the kernel, remembered while it exists so that it can
# be looked for once `down` has run (other berth users may share the host).
bridges=() veths=() ids=()
remember() {
  local f
  for f in "$root"/run/net/networks/*.json; do
    [ -f "$f" ] || continue
    bridges+=("$(json_field bridge "$f" | head -1)")
    while read -r v; do veths+=("$v"); done < <(json_field host_veth "$f")
  done
  for f in "$root"/containers/*/container.json; do
    [ -f "$f" ] && ids+=("$(basename "$(dirname "$f")")")
  done
}

leftovers() { # prints what of this root is left; empty when clean
  local tables x
  tables=$(nft list tables inet 2>/dev/null)
  for x in "${bridges[@]}"; do
    [ -e "/sys/class/net/$x" ] && echo "bridge $x"
    grep -q "table inet $x\$" <<<"$tables" && echo "nft $x"
  done
  for x in "${veths[@]}"; do
    [ -e "/sys/class/net/$x" ] && echo "veth $x"
    grep -q "table inet ${x}_ports\$" <<<"$tables" && echo "nft ${x}_ports"
  done
  for x in "${ids[@]}"; do
    ls -d /sys/fs/cgroup/*/berth/"$x" 2>/dev/null | sed 's/^/cgroup /'
  done
  ls "$root/run/netns" 2>/dev/null | sed 's/^/netns /'
  grep -F "$root" /proc/self/mountinfo | awk '{print "mount " $5}'
  pgrep -af -- "--root $root" | grep -v -e pgrep -e ' image import' | sed 's/^/process /'
  ls "$root/containers" 2>/dev/null | sed 's/^/container dir /'
}

check_project() { # the whole project, healthy, checked from inside
  local ps
  ps=$(cd "$proj" && b ps -a --format json) || { echo "ps failed"; return 1; }
  [ "$(grep -c . <<<"$ps")" = 6 ] || { echo "want 6 containers: $ps"; return 1; }
  for s in web api db cache app; do
    grep "\"Service\":\"$s\"" <<<"$ps" | grep -q '"State":"running"' || { echo "$s not running"; return 1; }
  done
  grep '"Service":"cache"' <<<"$ps" | grep -q '"Health":"healthy"' || { echo "cache not healthy"; return 1; }
  (cd "$proj" && b exec app nslookup db >/dev/null 2>&1) || { echo "app cannot resolve db"; return 1; }
  (cd "$proj" && b exec api nslookup web >/dev/null 2>&1) || { echo "api cannot resolve web"; return 1; }
  exec 3<>"/dev/tcp/127.0.0.1/$port" || { echo "port $port closed"; return 1; }
  printf 'GET / HTTP/1.0\r\n\r\n' >&3
  grep -q '^ok' <&3 || { exec 3<&-; echo "port $port: no answer"; return 1; }
  exec 3<&-
  # Still so a moment later (nothing kept that was about to exit), and flaky restarts.
  local before after
  before=$(cd "$proj" && b ps -a --format json | grep '"Service":"flaky"')
  sleep 1.5
  ps=$(cd "$proj" && b ps -a --format json)
  for s in web api db cache app; do
    grep "\"Service\":\"$s\"" <<<"$ps" | grep -q '"State":"running"' || { echo "$s exited after up"; return 1; }
  done
  after=$(grep '"Service":"flaky"' <<<"$ps")
  [ "$before" != "$after" ] || { echo "flaky does not restart"; return 1; }
}

declare -A ok total
fail_note() { echo "[$1 #$2] $3" | tee -a "$log"; }

trial() { # trial KIND N FAULT-FUNCTION
  local kind=$1 n=$2 fault=$3 why=""
  total[$kind]=$(( ${total[$kind]:-0} + 1 ))
  local said
  said=$(cd "$proj" && $fault 2>>"$log")
  grep -q '^FAULT-FAIL' <<<"$said" && why=$(grep '^FAULT-FAIL' <<<"$said" | head -1)
  if ! (cd "$proj" && timeout 90 "$berth" --root "$root" up -d --wait) >>"$log" 2>&1; then
    why="${why:+$why; }recovery up failed"
  else
    remember
    local seen; seen=$(check_project)
    why="${why:+$why; }$seen"; why=${why%; }
  fi
  if ! (cd "$proj" && timeout 90 "$berth" --root "$root" down -t 2) >>"$log" 2>&1; then
    why="${why:+$why; }down failed"
  fi
  local left="" t0=$SECONDS
  # The kernel reaps what `down` let go within moments; wait for it, bounded.
  while left=$(leftovers) && [ -n "$left" ] && [ $(( SECONDS - t0 )) -lt 10 ]; do sleep 0.2; done
  [ -n "$left" ] && why="${why:+$why; }left: $(tr '\n' ' ' <<<"$left")"
  if [ -z "$why" ]; then ok[$kind]=$(( ${ok[$kind]:-0} + 1 )); else fail_note "$kind" "$n" "$why"; fi
  bridges=() veths=() ids=()
}

ms() { echo "$(( RANDOM % $1 ))"; }
sleep_for() { local m=$1; sleep "$(( m / 1000 )).$(printf '%03d' $(( m % 1000 )))"; }

kill_up_pid() { b up -d >/dev/null 2>&1 & local p=$!; sleep_for "$(ms 800)"; kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; }
kill_up_group() { setsid "$berth" --root "$root" up -d >/dev/null 2>&1 & local p=$!; sleep_for "$(ms 400)"; kill -9 -- "-$p" 2>/dev/null; wait "$p" 2>/dev/null; }
up_then() { b up -d --wait >/dev/null 2>&1; }
kill_down_pid() { up_then; b down -t 2 >/dev/null 2>&1 & local p=$!; sleep_for "$(ms 2000)"; kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; }
kill_down_group() { up_then; setsid "$berth" --root "$root" down -t 2 >/dev/null 2>&1 & local p=$!; sleep_for "$(ms 2000)"; kill -9 -- "-$p" 2>/dev/null; wait "$p" 2>/dev/null; }
kill_supervisor() {
  up_then
  local files=("$root"/run/containers/*/status.json) f p
  f=${files[$(( RANDOM % ${#files[@]} ))]}
  p=$(json_field supervisor_pid "$f")
  [ -n "$p" ] && kill -9 "$p"
  sleep_for "$(ms 1500)"
}
kill_dns() {
  up_then
  local p; p=$(json_field pid "$root/run/dns.json" 2>/dev/null)
  [ -n "$p" ] && kill -9 "$p"
  # Names must come back by themselves (the supervisors restart the responder).
  local t0=$SECONDS
  until b exec app nslookup db >/dev/null 2>&1; do
    [ $(( SECONDS - t0 )) -ge 10 ] && { echo "FAULT-FAIL DNS not back within 10 s"; break; }
    sleep 0.2
  done
}
down_up() { up_then; b down -t 2 >/dev/null 2>&1 && b up -d --wait >/dev/null 2>&1 && b exec app nslookup db >/dev/null 2>&1 || echo "FAULT-FAIL down && up: no DNS at once"; }

kinds=(up-pid:kill_up_pid:$trials up-group:kill_up_group:$trials down-pid:kill_down_pid:$trials
       down-group:kill_down_group:$trials supervisor:kill_supervisor:$quick dns:kill_dns:$quick
       down-up:down_up:$quick)
for k in "${kinds[@]}"; do
  IFS=: read -r kind fn count <<<"$k"
  for ((i = 1; i <= count; i++)); do
    [ $(( SECONDS - start_time )) -ge "$limit" ] && break 2
    trial "$kind" "$i" "$fn"
  done
  printf '%-11s %3d/%-3d converged\n' "$kind" "${ok[$kind]:-0}" "${total[$kind]:-0}"
done
# Any kind not reached before the time limit.
for k in "${kinds[@]}"; do
  IFS=: read -r kind _ _ <<<"$k"
  [ -n "${total[$kind]:-}" ] || printf '%-11s   not run (time limit)\n' "$kind"
done
echo "elapsed $(( SECONDS - start_time )) s; failures (if any) in $log"
