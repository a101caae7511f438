#!/usr/bin/env bash
# Builds the images of the Swarm stack from local files, with no registry:
#   - swarmflow:<hash>           this checkout's build (dist/, production node_modules, examples)
#                                on a runtime base made from this machine's node binary, the
#                                libraries it links, tini and busybox (for `sh` in process tasks);
#   - swarmflow/gateway:<hash>   the gateway (the published port), its own files on that base;
#   - swarmflow/postgres:<hash>  and swarmflow/rabbitmq:<hash>, from Debian packages
#                                (debootstrap from the apt mirror), with the official images'
#                                interface (POSTGRES_*, docker-entrypoint.sh rabbitmq-server).
# Tags are content hashes: a second run with the same inputs builds nothing.
# Prints `export SWARMFLOW_IMAGE=… SWARMFLOW_GATEWAY_IMAGE=… POSTGRES_IMAGE=… RABBITMQ_IMAGE=…` on stdout (progress on
# stderr), so `eval "$(deploy/swarm/build-images.sh)"` then `docker stack deploy …` works.
#
# Needs: root (debootstrap, docker), a built checkout (`npm run build`), Docker, debootstrap,
# tini and busybox-static (Debian: apt-get install debootstrap tini busybox-static).
# Environment: DOCKER (default /usr/bin/docker), DEBIAN_MIRROR
# (default: the first deb.debian.org-style URI apt is configured with), DEBIAN_SUITE (bookworm),
# SKIP_SERVICE_IMAGES=1 (only swarmflow, e.g. where the official postgres/rabbitmq can be pulled).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/deploy/swarm/images"
DOCKER="${DOCKER:-/usr/bin/docker}"
SUITE="${DEBIAN_SUITE:-bookworm}"
LABEL="org.swarmflow.built-by=build-images.sh"
log() { printf '[build-images] %s\n' "$*" >&2; }
die() { printf 'build-images: %s\n' "$*" >&2; exit 1; }
have_image() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }
hash_of() { sha256sum | cut -c1-12; }
start=$(date +%s)

[ -f "$ROOT/dist/apps/cli/src/main.js" ] || die "no build in $ROOT/dist. Fix: run \`npm run build\` first"
command -v tini >/dev/null || die "tini is missing. Fix: apt-get install tini"
command -v busybox >/dev/null || die "busybox is missing. Fix: apt-get install busybox-static"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Production packages only: what `npm ls --omit=dev` lists (the top-most folders of it).
(cd "$ROOT" && npm ls --omit=dev --all --parseable 2>/dev/null || true) \
  | sed -n "s#^$ROOT/##p" | grep '^node_modules/' | sort -u \
  | awk 'NR == 1 || index($0, last "/") != 1 { print; last = $0 }' > "$work/packages"
[ -s "$work/packages" ] || die "npm ls found no production packages in $ROOT/node_modules. Fix: run npm ci"

# ---- 1. Node runtime base: node + its libraries + tini + busybox, ~100 MB -------------------
node_bin="$(readlink -f "$(command -v node)")"
tini_bin="$(readlink -f "$(command -v tini)")"
busybox_bin="$(readlink -f "$(command -v busybox)")"
libs() { ldd "$1" 2>/dev/null | awk '/=>/ { print $3 } /^\s*\/lib/ { print $1 }' | grep '^/' || true; }
# The libraries of node, tini, the native addons of those packages and sf-spawner.
natives="$(cd "$ROOT" && { find -L $(cat "$work/packages") -name '*.node' -type f; ls dist/native/* 2>/dev/null; } | sort -u)"
lib_list="$( { libs "$node_bin"; libs "$tini_bin"; for n in $natives; do libs "$ROOT/$n"; done; } | sort -u)"
base_hash="$( { cat "$node_bin" "$tini_bin" "$busybox_bin"; for l in $lib_list; do cat "$(readlink -f "$l")"; done; cat "$0"; } | hash_of)"
BASE_IMAGE="swarmflow/node-runtime:$base_hash"
if have_image "$BASE_IMAGE"; then
  log "$BASE_IMAGE: cached"
else
  log "$BASE_IMAGE: building from $node_bin ($("$node_bin" --version))"
  rootfs="$work/rootfs"
  mkdir -p "$rootfs"/{bin,usr/bin,usr/local/bin,etc/ssl/certs,tmp,home/swarmflow,opt/swarmflow}
  chmod 1777 "$rootfs/tmp"
  cp "$node_bin" "$rootfs/usr/local/bin/node"
  cp "$tini_bin" "$rootfs/usr/bin/tini"
  cp "$busybox_bin" "$rootfs/bin/busybox"
  for applet in $("$busybox_bin" --list); do [ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"; done
  ln -s /bin/busybox "$rootfs/usr/bin/env" # for `#!/usr/bin/env node`
  ln -s /opt/swarmflow/bin/swarmflow.js "$rootfs/usr/local/bin/swarmflow" # the app layer brings its target
  for l in $lib_list; do mkdir -p "$rootfs$(dirname "$l")"; cp -L "$l" "$rootfs$l"; done
  [ -f /etc/ssl/certs/ca-certificates.crt ] && cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/"
  printf 'root:x:0:0:root:/root:/bin/sh\nswarmflow:x:10001:10001:swarmflow:/home/swarmflow:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$rootfs/etc/passwd"
  printf 'root:x:0:\nswarmflow:x:10001:\nnogroup:x:65534:\n' > "$rootfs/etc/group"
  printf 'hosts: files dns\n' > "$rootfs/etc/nsswitch.conf"
  chown 10001:10001 "$rootfs/home/swarmflow"
  tar -C "$rootfs" -c . | "$DOCKER" import \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' --change "LABEL $LABEL" - "$BASE_IMAGE" >/dev/null
fi

# ---- 2. swarmflow: this checkout's build on the base ----------------------------------------
cat > "$work/Dockerfile" <<EOF
# Generated by deploy/swarm/build-images.sh: the runtime stage of /Dockerfile on a local base.
FROM $BASE_IMAGE
COPY app /opt/swarmflow
ENV NODE_ENV=production SWARMFLOW_WEB_HOST=0.0.0.0 SWARMFLOW_DAGS_FOLDER=/opt/swarmflow/examples/dags PATH=/usr/local/bin:/usr/bin:/bin
WORKDIR /home/swarmflow
USER swarmflow
LABEL $LABEL
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["node", "/opt/swarmflow/bin/healthcheck.js"]
ENTRYPOINT ["tini", "--", "swarmflow"]
CMD ["--help"]
EOF
ctx="$work/context.tar"
tar_opts=(--sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner)
(cd "$ROOT" && tar "${tar_opts[@]}" --transform 's,^,app/,' --exclude='*.map' --exclude='*.spec.js' --exclude='*.spec.d.ts' \
  -cf "$ctx" package.json bin dist examples -T "$work/packages")
tar "${tar_opts[@]}" -C "$work" -rf "$ctx" Dockerfile
app_hash="$(hash_of < "$ctx")"
SWARMFLOW_IMAGE="swarmflow:$app_hash"
if have_image "$SWARMFLOW_IMAGE"; then
  log "$SWARMFLOW_IMAGE: cached"
else
  log "$SWARMFLOW_IMAGE: building ($(du -m "$ctx" | cut -f1) MB context)"
  DOCKER_BUILDKIT=0 "$DOCKER" build -q -t "$SWARMFLOW_IMAGE" - < "$ctx" >/dev/null
fi

# ---- 2b. the gateway: its compiled files (Node's own modules only) on the base ---------------
# Its tag changes only when those files or the base do: redeploying a new swarmflow image leaves
# the gateway, which holds the published port, running.
gw="$work/gateway"
mkdir -p "$gw/app"
for f in gateway gateway.config main; do
  [ -f "$ROOT/dist/apps/gateway/src/$f.js" ] || die "no dist/apps/gateway/src/$f.js. Fix: run \`npm run build\` first"
  cp "$ROOT/dist/apps/gateway/src/$f.js" "$gw/app/"
done
cat > "$gw/Dockerfile" <<EOF
# Generated by deploy/swarm/build-images.sh: the gateway stage of /Dockerfile on a local base.
FROM $BASE_IMAGE
COPY app /opt/swarmflow-gateway
WORKDIR /home/swarmflow
USER swarmflow
LABEL $LABEL
EXPOSE 8080
HEALTHCHECK --interval=5s --timeout=5s --start-period=10s --retries=3 CMD ["node", "/opt/swarmflow-gateway/main.js", "health"]
ENTRYPOINT ["tini", "--", "node", "/opt/swarmflow-gateway/main.js"]
EOF
gctx="$work/gateway.tar"
tar "${tar_opts[@]}" -C "$gw" -cf "$gctx" Dockerfile app
GATEWAY_IMAGE="swarmflow/gateway:$(hash_of < "$gctx")"
if have_image "$GATEWAY_IMAGE"; then
  log "$GATEWAY_IMAGE: cached"
else
  DOCKER_BUILDKIT=0 "$DOCKER" build -q -t "$GATEWAY_IMAGE" - < "$gctx" >/dev/null
  log "$GATEWAY_IMAGE: built"
fi

# ---- 3. PostgreSQL and RabbitMQ from Debian packages ---------------------------------------
if [ "${SKIP_SERVICE_IMAGES:-}" = 1 ]; then
  printf 'export SWARMFLOW_IMAGE=%s SWARMFLOW_GATEWAY_IMAGE=%s\n' "$SWARMFLOW_IMAGE" "$GATEWAY_IMAGE"
  log "done in $(( $(date +%s) - start ))s"
  exit 0
fi
mirror="${DEBIAN_MIRROR:-$(grep -rhoE '^(URIs:|deb) *https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null | head -n 1 | grep -oE 'https?://[^ ]+' || true)}"
mirror="${mirror:-http://deb.debian.org/debian}"
packages="postgresql,rabbitmq-server,ca-certificates"
svc_hash="$( { echo "$SUITE $packages"; cat "$HERE/postgres-entrypoint.sh" "$HERE/rabbitmq-entrypoint.sh"; } | hash_of)"
SERVICES_BASE="swarmflow/debian-services:$svc_hash"
POSTGRES_IMAGE="swarmflow/postgres:$svc_hash"
RABBITMQ_IMAGE="swarmflow/rabbitmq:$svc_hash"
if have_image "$POSTGRES_IMAGE" && have_image "$RABBITMQ_IMAGE"; then
  log "$POSTGRES_IMAGE, $RABBITMQ_IMAGE: cached"
else
  if ! have_image "$SERVICES_BASE"; then
    command -v debootstrap >/dev/null || die "debootstrap is missing. Fix: apt-get install debootstrap"
    log "$SERVICES_BASE: debootstrap $SUITE with $packages from $mirror (about a minute)"
    rootfs="$work/debian"
    debootstrap --variant=minbase --include="$packages" "$SUITE" "$rootfs" "$mirror" > "$work/debootstrap.log" 2>&1 \
      || { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
    # The package's own cluster and caches: the entry point makes its own data folder.
    rm -rf "$rootfs"/var/lib/postgresql/* "$rootfs"/etc/postgresql/* "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    pgbin="$(ls -d "$rootfs"/usr/lib/postgresql/*/bin | head -n 1)"
    tar -C "$rootfs" -c . | "$DOCKER" import --change "ENV PATH=${pgbin#"$rootfs"}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
      --change "LABEL $LABEL" - "$SERVICES_BASE" >/dev/null
  fi
  mkdir -p "$work/pg" "$work/mq"
  cp "$HERE/postgres-entrypoint.sh" "$work/pg/docker-entrypoint.sh"
  cp "$HERE/rabbitmq-entrypoint.sh" "$work/mq/docker-entrypoint.sh"
  cat > "$work/pg/Dockerfile" <<EOF
FROM $SERVICES_BASE
COPY docker-entrypoint.sh /usr/local/bin/
ENV PGDATA=/var/lib/postgresql/data
LABEL $LABEL
STOPSIGNAL SIGINT
EXPOSE 5432
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
EOF
  cat > "$work/mq/Dockerfile" <<EOF
FROM $SERVICES_BASE
COPY docker-entrypoint.sh /usr/local/bin/
LABEL $LABEL
EXPOSE 5672
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["rabbitmq-server"]
EOF
  DOCKER_BUILDKIT=0 "$DOCKER" build -q -t "$POSTGRES_IMAGE" "$work/pg" >/dev/null
  DOCKER_BUILDKIT=0 "$DOCKER" build -q -t "$RABBITMQ_IMAGE" "$work/mq" >/dev/null
  log "$POSTGRES_IMAGE, $RABBITMQ_IMAGE: built"
fi
log "done in $(( $(date +%s) - start ))s"
printf 'export SWARMFLOW_IMAGE=%s SWARMFLOW_GATEWAY_IMAGE=%s POSTGRES_IMAGE=%s RABBITMQ_IMAGE=%s\n' "$SWARMFLOW_IMAGE" "$GATEWAY_IMAGE" "$POSTGRES_IMAGE" "$RABBITMQ_IMAGE"
