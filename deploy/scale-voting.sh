#!/usr/bin/env bash
# `make scale-voting N=5`: run N voting replicas in the compose stack without touching the
# running containers (new ones start, surplus ones stop). Works with Docker Compose v2
# (`docker compose`) and with Debian's docker-compose v1, whichever is installed; v2 first.
# Settings as for `docker compose` itself (COMPOSE_FILE, COMPOSE_PROJECT_NAME, …).
set -euo pipefail

n="${1:-${N:-3}}"
if ! [[ "$n" =~ ^[1-9][0-9]*$ ]]; then
  echo "scale-voting: N must be a number of voting replicas, 1 or more (not '$n')" >&2
  exit 2
fi
cd "$(dirname "$0")/.."

if command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  compose=(docker-compose)
else
  echo "scale-voting: neither 'docker compose' (v2) nor 'docker-compose' (v1) is installed" >&2
  exit 127
fi

exec "${compose[@]}" up -d --no-recreate --scale "voting=$n" voting
