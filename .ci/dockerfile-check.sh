#!/usr/bin/env bash
# The ordinary Dockerfile, built with plain `docker build` where Docker Hub cannot be reached:
# its base (ARG NODE_IMAGE, node:20-bookworm-slim) replaced by a local stand-in
# (deploy/swarm/build-node-standin.sh: Debian + this machine's node and npm); its apt-get and
# npm ci go to the Debian mirror and the npm registry as anywhere. Then the image must:
#   - print the package's version (`swarmflow --version`, through tini, as user swarmflow);
#   - migrate a throwaway database on this machine's PostgreSQL (`swarmflow db migrate`);
#   - run the webserver until its own HEALTHCHECK says healthy (GET /api/v1/health: database reachable);
#   - build the gateway stage and reach that webserver's health through it (its HEALTHCHECK healthy).
# Docker's layer cache keeps the build between runs (the tag swarmflow-dockerfile:check is reused);
# npm ci reruns only when package-lock.json changes. Needs root, Docker, debootstrap, psql.
set -euo pipefail
cd "$(dirname "$0")/.."
DOCKER="${DOCKER:-/usr/bin/docker}"
TAG="swarmflow-dockerfile:check"
log() { printf '[dockerfile-check] %s\n' "$*" >&2; }
start=$(date +%s)

base="$(bash deploy/swarm/build-node-standin.sh)"
log "docker build --build-arg NODE_IMAGE=$base -t $TAG ."
DOCKER_BUILDKIT=0 "$DOCKER" build -q --build-arg NODE_IMAGE="$base" -t "$TAG" . >/dev/null
log "built in $(( $(date +%s) - start ))s: $("$DOCKER" image inspect -f '{{.Size}}' "$TAG" | awk '{ printf "%d MB", $1 / 1e6 }')"

expected="$(node -p 'require("./package.json").version')"
version="$("$DOCKER" run --rm "$TAG" --version)"
[ "$version" = "$expected" ] || { log "swarmflow --version printed \"$version\", expected \"$expected\""; exit 1; }
user="$("$DOCKER" image inspect -f '{{.Config.User}}' "$TAG")"
[ "$user" = swarmflow ] || { log "the image runs as \"$user\", expected swarmflow"; exit 1; }
log "swarmflow --version: $version (user $user)"

suffix="$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
db="sf_dockerfile_$suffix"
name="sf-dockerfile-$suffix"
keydir="$(mktemp -d)"
cleanup() {
  "$DOCKER" rm -f "$name" "$name-gw" >/dev/null 2>&1 || true
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
  rm -rf "$keydir"
}
trap cleanup EXIT
psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE $db" >/dev/null
# The cluster key and the first admin's password as files (as Docker secrets would be), readable by the image's user.
openssl rand -base64 32 > "$keydir/cluster_key"
openssl rand -hex 16 > "$keydir/admin_password"
chmod 0755 "$keydir" && chmod 0644 "$keydir/cluster_key" "$keydir/admin_password"
port="$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')"
env_args=(-e "SWARMFLOW_DATABASE_URL=postgres://postgres@127.0.0.1:5432/$db" -e SWARMFLOW_CLUSTER_KEY_FILE=/run/key/cluster_key
  -e SWARMFLOW_ADMIN_PASSWORD_FILE=/run/key/admin_password
  -e SWARMFLOW_WEB_HOST=127.0.0.1 -e "SWARMFLOW_WEB_PORT=$port" -v "$keydir:/run/key:ro")
"$DOCKER" run --rm --network host "${env_args[@]}" "$TAG" db migrate >/dev/null
log "db migrate: done"
"$DOCKER" run -d --name "$name" --network host "${env_args[@]}" "$TAG" webserver >/dev/null
for _ in $(seq 1 90); do
  health="$("$DOCKER" inspect -f '{{.State.Health.Status}}' "$name" 2>/dev/null || echo gone)"
  [ "$health" = healthy ] || [ "$health" = unhealthy ] || [ "$health" = gone ] && break
  sleep 1
done
if [ "$health" != healthy ]; then
  "$DOCKER" logs --tail 30 "$name" >&2 || true
  log "the webserver's HEALTHCHECK says: $health"
  exit 1
fi
log "webserver HEALTHCHECK: healthy ($(curl -s "http://127.0.0.1:$port/api/v1/health"))"

# The gateway stage: in front of that webserver, its own HEALTHCHECK healthy, the API through it.
GW_TAG="swarmflow-dockerfile:check-gateway"
DOCKER_BUILDKIT=0 "$DOCKER" build -q --build-arg NODE_IMAGE="$base" --target gateway -t "$GW_TAG" . >/dev/null
gw_port="$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')"
"$DOCKER" run -d --name "$name-gw" --network host -e SWARMFLOW_GATEWAY_HOST=127.0.0.1 -e "SWARMFLOW_GATEWAY_PORT=$gw_port" \
  -e "SWARMFLOW_GATEWAY_BACKEND=127.0.0.1:$port" "$GW_TAG" >/dev/null
for _ in $(seq 1 60); do
  health="$("$DOCKER" inspect -f '{{.State.Health.Status}}' "$name-gw" 2>/dev/null || echo gone)"
  [ "$health" = healthy ] || [ "$health" = unhealthy ] || [ "$health" = gone ] && break
  sleep 1
done
through="$(curl -s "http://127.0.0.1:$gw_port/api/v1/health" || true)"
if [ "$health" != healthy ] || ! grep -q '"status":"ok"' <<<"$through"; then
  "$DOCKER" logs --tail 30 "$name-gw" >&2 || true
  log "the gateway's HEALTHCHECK says: $health; GET /api/v1/health through it: $through"
  exit 1
fi
log "gateway HEALTHCHECK: healthy; the API through it: $through"
log "ok in $(( $(date +%s) - start ))s"
