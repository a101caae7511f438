#!/usr/bin/env bash
# Builds a local stand-in for the official Node image the Dockerfile starts FROM
# (node:20-bookworm-slim), for machines that cannot pull from Docker Hub: Debian bookworm
# (debootstrap --variant=minbase from the apt mirror) with this machine's node and npm. Then
# the ordinary Dockerfile builds unchanged (its apt-get and npm ci need the Debian mirror
# and the npm registry, as anywhere):
#   docker build --build-arg NODE_IMAGE="$(deploy/swarm/build-node-standin.sh)" -t swarmflow:local .
# Prints the image name (swarmflow/node-bookworm:<hash>) on stdout, progress on stderr. Tags
# are content hashes (suite; node, npm, the CA bundle, this script): a second run builds
# nothing. It is never tagged node:…, so it does not shadow the official image.
#
# The stand-in trusts the CAs this machine trusts (SSL_CERT_FILE, default
# /etc/ssl/certs/ca-certificates.crt, as NODE_EXTRA_CA_CERTS): behind a TLS-intercepting
# proxy, npm ci in the build reaches the registry as npm does on this machine.
#
# Needs: root (debootstrap, docker), Docker, debootstrap, node >= 20.19 with npm.
# Environment: DOCKER (default /usr/bin/docker), DEBIAN_MIRROR (default: the first
# deb.debian.org-style URI apt is configured with), DEBIAN_SUITE (bookworm), SSL_CERT_FILE.
set -euo pipefail
DOCKER="${DOCKER:-/usr/bin/docker}"
SUITE="${DEBIAN_SUITE:-bookworm}"
log() { printf '[build-node-standin] %s\n' "$*" >&2; }
die() { printf 'build-node-standin: %s\n' "$*" >&2; exit 1; }
start=$(date +%s)

node_bin="$(readlink -f "$(command -v node)")" || die "node is missing"
npm_dir="$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)" || die "npm is missing"
[ -f "$npm_dir/package.json" ] || die "npm's folder not found (looked in $npm_dir)"
ca_file="${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}"
[ -f "$ca_file" ] || die "no CA bundle at $ca_file (set SSL_CERT_FILE)"
mirror="${DEBIAN_MIRROR:-$(grep -rhoE '^(URIs:|deb) *https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null | head -n 1 | grep -oE 'https?://[^ ]+' || true)}"
mirror="${mirror:-http://deb.debian.org/debian}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# ---- 1. Debian minbase (debootstrap), cached by suite --------------------------------------
DEBIAN_IMAGE="swarmflow/debian-minbase:$(printf '%s minbase ca-certificates' "$SUITE" | sha256sum | cut -c1-12)"
if "$DOCKER" image inspect "$DEBIAN_IMAGE" >/dev/null 2>&1; then
  log "$DEBIAN_IMAGE: cached"
else
  command -v debootstrap >/dev/null || die "debootstrap is missing. Fix: apt-get install debootstrap"
  log "$DEBIAN_IMAGE: debootstrap $SUITE from $mirror (a few minutes)"
  rootfs="$work/rootfs"
  debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$rootfs" "$mirror" > "$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
  rm -rf "$rootfs/var/cache/apt/archives/"*.deb "$rootfs/var/lib/apt/lists/"*
  tar -C "$rootfs" -c . | "$DOCKER" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'LABEL org.swarmflow.built-by=build-node-standin.sh' - "$DEBIAN_IMAGE" >/dev/null
fi

# ---- 2. node and npm on it, where the official image has them ------------------------------
hash="$( { echo "$DEBIAN_IMAGE"; cat "$node_bin" "$npm_dir/package.json" "$ca_file" "$0"; } | sha256sum | cut -c1-12)"
IMAGE="swarmflow/node-bookworm:$hash"
if "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1; then
  log "$IMAGE: cached"
  printf '%s\n' "$IMAGE"
  exit 0
fi
log "$IMAGE: node $("$node_bin" --version) and npm $("$node_bin" -p "require('$npm_dir/package.json').version") on $DEBIAN_IMAGE"
ctx="$work/ctx"
mkdir -p "$ctx"
cp "$node_bin" "$ctx/node"
cp -a "$npm_dir" "$ctx/npm"
cp "$ca_file" "$ctx/ca-certificates.crt"
{
  echo "FROM $DEBIAN_IMAGE"
  echo 'COPY node /usr/local/bin/node'
  echo 'COPY npm /usr/local/lib/node_modules/npm'
  echo 'COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt'
  echo 'RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \'
  echo ' && groupadd -g 1000 node && useradd -u 1000 -g 1000 -m -s /bin/bash node'
  echo 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt'
  echo 'LABEL org.swarmflow.built-by=build-node-standin.sh'
  echo 'CMD ["node"]'
} > "$ctx/Dockerfile"
DOCKER_BUILDKIT=0 "$DOCKER" build -q -t "$IMAGE" "$ctx" >/dev/null
log "$IMAGE: built in $(( $(date +%s) - start ))s"
printf '%s\n' "$IMAGE"
