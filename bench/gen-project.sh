#!/usr/bin/env bash
# Writes a compose project of N services into DIR: anchors, merge keys, extends
# (another file), interpolation with defaults, every common short form.
# No top-level `name:`: Debian's docker-compose 1.29, the peer in bench/config.sh,
# rejects it, so both tools get the project name from `-p`.
# usage: bench/gen-project.sh DIR N
set -euo pipefail
dir=$1 n=$2
mkdir -p "$dir"
cat > "$dir/.env" <<'ENV'
TAG=1.35
BASE_PORT=20000
ENV
cat > "$dir/common.yaml" <<'YAML'
services:
  base:
    image: localhost/busybox:${TAG:-stable}
    restart: unless-stopped
    environment:
      LOG_LEVEL: ${LOG_LEVEL:-info}
    labels:
      tier: generated
YAML
{
  echo "x-defaults: &defaults"
  echo "  init: true"
  echo "  stop_grace_period: 5s"
  echo "  healthcheck:"
  echo "    test: [\"CMD\", \"true\"]"
  echo "    interval: 10s"
  echo "  logging:"
  echo "    options:"
  echo "      max-size: 1m"
  echo "services:"
  for ((i = 0; i < n; i++)); do
    echo "  svc$i:"
    echo "    <<: *defaults"
    echo "    extends:"
    echo "      file: common.yaml"
    echo "      service: base"
    echo "    command: [\"sh\", \"-c\", \"echo svc$i \${TAG}; sleep 3600\"]"
    echo "    ports:"
    echo "      - \"127.0.0.1:\${PORT_$i:-$((20000 + i))}:80/tcp\""
    echo "    volumes:"
    echo "      - data$((i % 10)):/data"
    echo "      - ./conf:/etc/conf:ro"
    echo "    environment:"
    echo "      - SERVICE_INDEX=$i"
    echo "      - PEER=svc$(((i + 1) % n))"
    echo "    networks:"
    echo "      - net$((i % 5))"
    if ((i > 0)); then
      echo "    depends_on:"
      echo "      - svc$((i - 1))"
    fi
  done
  echo "networks:"
  for ((k = 0; k < 5; k++)); do echo "  net$k: {}"; done
  echo "volumes:"
  for ((k = 0; k < 10; k++)); do echo "  data$k: {}"; done
} > "$dir/compose.yaml"
mkdir -p "$dir/conf"
