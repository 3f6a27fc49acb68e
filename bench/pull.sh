#!/usr/bin/env bash
# Pull benchmark: a synthetic image (~10 gzip layers of random data, ~300 MB) from a
# local docker-registry, berth pull vs skopeo copy to an OCI dir, in the same run.
# Reports seconds, MB/s, peak RSS (/usr/bin/time -v) and berth/skopeo ratios. A second
# image with the same total in 2 big layers shows memory does not grow with layer size.
#
# usage: bench/pull.sh [runs]   (default 3 runs each, best time reported)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}

command -v docker-registry >/dev/null && command -v skopeo >/dev/null || { echo "run scripts/setup first" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time is needed (apt-get install time)" >&2; exit 1; }
cargo build --release --quiet --bin berth --bin berth-supervisor
berth=$PWD/target/release/berth

work=$(mktemp -d /var/tmp/berth-bench.XXXXXX)
reg_pid=
cleanup() { [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/registry.yml" <<YML
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
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

sha() { sha256sum "$1" | cut -d' ' -f1; }

# make_image NAME LAYERS MB_PER_LAYER: an OCI layout in $work/src-NAME, pushed as bench/NAME:1.
make_image() {
  local name=$1 n=$2 mb=$3 layout=$work/src-$1 diffs= layers= i
  mkdir -p "$layout/blobs/sha256"
  for i in $(seq "$n"); do
    local d=$work/l$i; mkdir -p "$d"
    head -c $((mb * 1000 * 1000)) /dev/urandom > "$d/data-$i"
    tar -C "$d" -cf "$work/layer.tar" .
    local diff; diff=$(sha "$work/layer.tar")
    gzip -1 -c "$work/layer.tar" > "$work/layer.tgz"
    local dg; dg=$(sha "$work/layer.tgz")
    local size; size=$(stat -c %s "$work/layer.tgz")
    mv "$work/layer.tgz" "$layout/blobs/sha256/$dg"
    rm -rf "$d" "$work/layer.tar"
    diffs+="${diffs:+,}\"sha256:$diff\""
    layers+="${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$dg\",\"size\":$size}"
  done
  printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["/data-1"]},"rootfs":{"type":"layers","diff_ids":[%s]}}' "$diffs" > "$work/config.json"
  local cd; cd=$(sha "$work/config.json"); local cs; cs=$(stat -c %s "$work/config.json")
  mv "$work/config.json" "$layout/blobs/sha256/$cd"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' "$cd" "$cs" "$layers" > "$work/manifest.json"
  local md; md=$(sha "$work/manifest.json"); local ms; ms=$(stat -c %s "$work/manifest.json")
  mv "$work/manifest.json" "$layout/blobs/sha256/$md"
  printf '{"imageLayoutVersion":"1.0.0"}' > "$layout/oci-layout"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"1"}}]}' "$md" "$ms" > "$layout/index.json"
  skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$layout:1" "docker://127.0.0.1:$port/bench/$name:1"
  du -sb "$layout/blobs" | cut -f1 > "$work/bytes-$name"
  rm -rf "$layout"
}

# timed OUT CMD...: runs CMD under /usr/bin/time -v; prints "seconds maxrss_kb".
timed() {
  local out=$1; shift
  sync
  /usr/bin/time -v "$@" >/dev/null 2>"$out.time"
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$out.time")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out.time")
  echo "$wall $rss"
}

bench_image() {
  local name=$1 ref=127.0.0.1:$port/bench/$1:1 bytes best_b=999999 best_s=999999 rss_b=0 rss_s=0 r t m
  bytes=$(cat "$work/bytes-$name")
  for r in $(seq "$runs"); do
    rm -rf "$work/root" "$work/oci"
    read -r t m < <(timed "$work/berth" "$berth" --root "$work/root" image pull -q "$ref")
    awk -v a="$t" -v b="$best_b" 'BEGIN{exit !(a<b)}' && best_b=$t
    ((m > rss_b)) && rss_b=$m
    read -r t m < <(timed "$work/skopeo" skopeo --insecure-policy copy -q --src-tls-verify=false "docker://$ref" "oci:$work/oci:1")
    awk -v a="$t" -v b="$best_s" 'BEGIN{exit !(a<b)}' && best_s=$t
    ((m > rss_s)) && rss_s=$m
  done
  rm -rf "$work/root" "$work/oci"
  awk -v name="$name" -v bytes="$bytes" -v bb="$best_b" -v bs="$best_s" -v rb="$rss_b" -v rs="$rss_s" 'BEGIN{
    mb = bytes / 1e6
    printf "%-14s %6.0f MB | berth %6.2f s %7.1f MB/s %6.1f MB RSS | skopeo %6.2f s %7.1f MB/s %6.1f MB RSS | time berth/skopeo %.2f  rss berth/skopeo %.2f\n",
      name, mb, bb, mb/bb, rb/1024, bs, mb/bs, rs/1024, bb/bs, rb/rs }'
}

echo "building synthetic images (random data, gzip -1)..." >&2
make_image 10x30mb 10 30
make_image 2x150mb 2 150
echo "berth: pull = download + verify + unpack (layers ready to run); skopeo: copy blobs to an OCI dir" >&2
echo "best of $runs runs; $(nproc) cores; registry and destination on the same disk"
bench_image 10x30mb
bench_image 2x150mb
