#!/usr/bin/env bash
# `config -q` on a generated 500-service project as a whole process: berth against
# docker-compose (Debian's package) in the same run, printed as a ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-500}
command -v hyperfine >/dev/null || scripts/setup
command -v docker-compose >/dev/null || {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose
}
cargo build --release --quiet
berth=$PWD/target/release/berth
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bench/gen-project.sh "$work" "$n"
cd "$work"
# The generated file has no `name:` (docker-compose 1.29 rejects it): both get `-p`.
project=gen$n
"$berth" -p "$project" config -q
docker-compose -p "$project" config -q
hyperfine -N --warmup 3 --min-runs 20 --export-json "$work/h.json" \
  -n berth "$berth -p $project config -q" \
  -n docker-compose "docker-compose -p $project config -q" >&2
python3 - "$work/h.json" "$n" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
b, d = r["berth"]["median"], r["docker-compose"]["median"]
print(f"config -q, {sys.argv[2]} services: berth {b*1000:.1f} ms, docker-compose {d*1000:.1f} ms, ratio {d/b:.1f}x faster")
PY
