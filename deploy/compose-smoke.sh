#!/usr/bin/env bash
# make compose-smoke: the stack in containers, from the real Dockerfile, with three voting
# replicas, against this machine's RabbitMQ and PostgreSQL (deploy/compose.host.yml).
#
#  1. starts a Docker engine if none runs (../shared/tools/docker-here), or skips in one line
#  2. prepares the per-service databases and roles with the script compose itself uses
#  3. builds every image; checks they hold no compiler and run as non-root
#  4. makes the keys and the services' broker accounts with the one-shot `keys` and `accounts`
#     (through the machine's RabbitMQ management API), starts the stack with --scale voting=3
#     and waits until every container is healthy; each service connects as its own account
#  5. registers a section through the containerised gateway; the secretariat hears of it
#  6. kills one voting replica; sections registered afterwards still reach voting's read model
#  7. rebuilds an image after a code-only change: dependency layers come from the cache
#  8. tears everything down, including an engine it started
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "compose-smoke: $*"; }
fail() { say "FAILED: $*" >&2; exit 1; }

DOCKER_HERE=${DOCKER_HERE:-../shared/tools/docker-here}
started_engine=no
if ! docker info >/dev/null 2>&1; then
  if [ -x "$DOCKER_HERE" ] && "$DOCKER_HERE" start >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    started_engine=yes
  else
    say "no Docker engine could be started here; skipped"
    exit 0
  fi
fi
command -v docker-compose >/dev/null || fail "docker-compose is not installed"

export COMPOSE_PROJECT_NAME=congress-smoke
export COMPOSE_FILE=docker-compose.yml:deploy/compose.host.yml
export VHOST=congress-smoke
export AMQP_URI="amqp://guest:guest@127.0.0.1:5672/$VHOST"
export DB_PREFIX=smoke_ SECTIONS_DB_PASSWORD=smoke VOTING_DB_PASSWORD=smoke SECRETARIAT_DB_PASSWORD=smoke
export GATEWAY_PORT=${SMOKE_GATEWAY_PORT:-8300} ADMIN_TOKEN=smoke-admin-token
export PGHOST=127.0.0.1 PGUSER=postgres
GATEWAY="http://127.0.0.1:$GATEWAY_PORT"
AUTH="Authorization: Bearer $ADMIN_TOKEN"
scratch=$(mktemp -d)

cleanup() {
  status=$?
  mkdir -p var
  docker-compose logs --no-color --tail=100 >var/compose-smoke.log 2>&1 || true
  docker-compose down --volumes --remove-orphans --timeout 20 >/dev/null 2>&1 || true
  docker image rm -f congress-smoke/rebuilt >/dev/null 2>&1 || true
  for db in sections voting secretariat; do
    psql -q -c "DROP DATABASE IF EXISTS smoke_$db WITH (FORCE)" -c "DROP ROLE IF EXISTS smoke_$db" >/dev/null 2>&1 || true
  done
  rabbitmqctl -q delete_vhost "$VHOST" >/dev/null 2>&1 || true
  for service in sections voting secretariat gateway; do
    rabbitmqctl -q delete_user "congress-$service.$VHOST" >/dev/null 2>&1 || true
  done
  rm -rf "$scratch"
  if [ "$started_engine" = yes ]; then "$DOCKER_HERE" stop >/dev/null 2>&1 || true; fi
  [ $status -eq 0 ] || say "logs of the containers are in var/compose-smoke.log"
}
trap cleanup EXIT

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local seconds=$1 what=$2; shift 2
  for _ in $(seq "$seconds"); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  fail "timed out after ${seconds}s waiting for $what"
}

say "preparing databases and the vhost"
deploy/postgres/init-databases.sh >/dev/null
rabbitmqctl -q delete_vhost "$VHOST" >/dev/null 2>&1 || true
rabbitmqctl -q add_vhost "$VHOST"
rabbitmqctl -q set_permissions -p "$VHOST" guest '.*' '.*' '.*'
curl -sf -u guest:guest http://127.0.0.1:15672/api/whoami >/dev/null \
  || fail "the accounts step needs RabbitMQ's management API on 127.0.0.1:15672 (rabbitmq-plugins enable rabbitmq_management)"

say "building the images"
started=$(date +%s)
docker-compose build >"$scratch/build.log" 2>&1 || { tail -30 "$scratch/build.log"; fail "docker-compose build"; }
say "built in $(( $(date +%s) - started ))s"

for service in sections voting secretariat gateway; do
  image="congress/$service:latest"
  user=$(docker run --rm --network host --entrypoint id "$image" -u)
  [ "$user" != 0 ] || fail "$image runs as root"
  if docker run --rm --network host --entrypoint sh "$image" -c \
       'for c in gcc cc c++ g++ clang make; do command -v $c && exit 0; done; exit 1' >/dev/null; then
    fail "$image contains a compiler"
  fi
done
say "images run as non-root and hold no compiler"

say "making the keys and the services' broker accounts (one-shot keys, accounts)"
docker-compose run --rm --no-deps keys >"$scratch/keys.log" 2>&1 || { cat "$scratch/keys.log"; fail "keys"; }
docker-compose run --rm --no-deps accounts >"$scratch/accounts.log" 2>&1 \
  || { cat "$scratch/accounts.log"; fail "accounts"; }
grep -q "voting" "$scratch/accounts.log" || fail "accounts wrote no URI for voting"
! grep -q "amqp://" "$scratch/accounts.log" || fail "accounts printed a URI (and its password)"

say "starting the stack with three voting replicas"
docker-compose up -d --no-deps --scale voting=3 sections voting secretariat gateway-host >/dev/null 2>&1 \
  || fail "docker-compose up"
all_healthy() {
  local ids; ids=$(docker-compose ps -q)
  [ "$(echo "$ids" | wc -l)" -eq 6 ] || return 1
  for id in $ids; do
    [ "$(docker inspect -f '{{.State.Health.Status}}' "$id")" = healthy ] || return 1
  done
}
wait_for 240 "six healthy containers" all_healthy
[ "$(docker-compose ps -q voting | wc -l)" -eq 3 ] || fail "expected three voting containers"
say "six containers healthy, three of them voting"

# Each service is connected as its own account; nothing in the smoke's vhost as guest.
users=$(rabbitmqctl -q list_connections user vhost | awk -v v="$VHOST" '$2 == v {print $1}' | sort -u | tr '\n' ' ')
for service in sections voting secretariat gateway; do
  [[ " $users" == *" congress-$service.$VHOST "* ]] || fail "no connection as congress-$service.$VHOST (saw: $users)"
done
[[ " $users" != *" guest "* ]] || fail "a container connected as guest"
say "each service connected as its own broker account"

register() {
  curl -sf -X POST "$GATEWAY/api/v1/sections" -H "$AUTH" -H 'Content-Type: application/json' \
    -d "{\"code\":\"$1\",\"name\":\"Section $1\",\"country\":\"$2\",\"email\":\"$1@example.org\"}" >/dev/null \
    || fail "registering $1 through the gateway"
}
centre_heard_of() {  # no `curl | grep -q`: grep quitting early would SIGPIPE curl under pipefail
  local notices; notices=$(curl -sf "$GATEWAY/api/v1/notifications" -H "$AUTH") || return 1
  [[ $notices == *"code '$1'"* ]]
}
voting_knows() {
  [ "$(psql -d smoke_voting -tAc "SELECT count(*) FROM known_sections WHERE code = '$1'")" = 1 ]
}

register ew "England and Wales"
wait_for 60 "the secretariat to hear of ew" centre_heard_of ew
wait_for 60 "voting to know ew" voting_knows ew
say "a section registered through the containerised gateway reached the secretariat and voting"

victim=$(docker-compose ps -q voting | sed -n 1p)
docker kill "$victim" >/dev/null
for code in fr de br; do register "$code" "Country $code"; done
for code in fr de br; do wait_for 60 "voting to know $code with a replica down" voting_knows "$code"; done
survivors=0
for id in $(docker-compose ps -q voting); do
  [ "$(docker inspect -f '{{.State.Running}}' "$id")" = true ] && survivors=$((survivors + 1))
done
[ "$survivors" -ge 2 ] || fail "expected the two other voting replicas to keep running"
say "one voting replica killed: the others took over its queue (3 sections reached voting)"

say "rebuilding after a code-only change"
git ls-files -z | xargs -0 -I{} cp --parents {} "$scratch/" 2>/dev/null || cp -r . "$scratch/"
echo "# code-only change for the cache check" >>"$scratch/services/voting/src/voting/service.py"
started=$(date +%s)
docker build --network host -f "$scratch/deploy/Dockerfile" --build-arg SERVICE=voting \
  -t congress-smoke/rebuilt "$scratch" >"$scratch/rebuild.log" 2>&1 || fail "rebuild"
took=$(( $(date +%s) - started ))
before=$(docker inspect -f '{{range .RootFS.Layers}}{{println .}}{{end}}' congress/voting:latest)
after=$(docker inspect -f '{{range .RootFS.Layers}}{{println .}}{{end}}' congress-smoke/rebuilt)
shared=$(comm -12 <(echo "$before" | sort) <(echo "$after" | sort) | grep -c . || true)
total=$(echo "$before" | grep -c .)
# Only the code layers (the wheels copied in, and their install) may differ.
[ "$shared" -ge $((total - 2)) ] || fail "the rebuild reused $shared of $total layers"
[ "$took" -lt 60 ] || fail "the rebuild took ${took}s"
grep -q "Using cache" "$scratch/rebuild.log" || fail "the rebuild used no cache"
say "code-only rebuild took ${took}s, reusing $shared of $total layers (dependencies cached)"

say "OK"
