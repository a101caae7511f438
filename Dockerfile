# The swarmflow image: one image, every role (`swarmflow scheduler|worker|webserver|db migrate`).
#   docker build -t swarmflow:local .            (the last stage, runtime)
#   docker build --target gateway -t swarmflow-gateway:local .
# Without a registry, deploy/swarm/build-images.sh builds the same runtime stage offline from
# this checkout's build (README, "Deploy on Docker Swarm").
ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: compile TypeScript and the native process spawner, then keep production packages
FROM ${NODE_IMAGE} AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig*.json nest-cli.json ./
COPY apps apps
COPY libs libs
COPY bin bin
COPY examples examples
RUN npm run build && npm prune --omit=dev --no-audit --no-fund \
 && find dist -name '*.map' -delete && find dist -name '*.spec.*' -delete

# ---- gateway: the stack's published port (apps/gateway: Node's own modules only), in an image of
# its own so that a Swarmflow redeploy does not restart it:
#   docker build --target gateway -t swarmflow-gateway:local .
# Node itself is PID 1 here: the gateway handles SIGTERM (stops listening, lets requests finish).
FROM ${NODE_IMAGE} AS gateway
COPY --from=build /src/dist/apps/gateway/src/gateway.js /src/dist/apps/gateway/src/gateway.config.js /src/dist/apps/gateway/src/main.js /opt/swarmflow-gateway/
USER node
EXPOSE 8080
HEALTHCHECK --interval=5s --timeout=5s --start-period=10s --retries=3 CMD ["node", "/opt/swarmflow-gateway/main.js", "health"]
ENTRYPOINT ["node", "/opt/swarmflow-gateway/main.js"]

# ---- runtime: node, tini (SIGTERM reaches swarmflow, not a shell), a non-root user
FROM ${NODE_IMAGE} AS runtime
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/* \
 && groupadd -g 10001 swarmflow && useradd -u 10001 -g 10001 -m -d /home/swarmflow swarmflow \
 && ln -s /opt/swarmflow/bin/swarmflow.js /usr/local/bin/swarmflow
COPY --from=build /src/package.json /opt/swarmflow/package.json
COPY --from=build /src/bin /opt/swarmflow/bin
COPY --from=build /src/dist /opt/swarmflow/dist
COPY --from=build /src/examples /opt/swarmflow/examples
COPY --from=build /src/node_modules /opt/swarmflow/node_modules
# Keep in step with the generated Dockerfile in deploy/swarm/build-images.sh.
ENV NODE_ENV=production SWARMFLOW_WEB_HOST=0.0.0.0 SWARMFLOW_DAGS_FOLDER=/opt/swarmflow/examples/dags
WORKDIR /home/swarmflow
USER swarmflow
EXPOSE 8080
# The webserver: GET /api/v1/health; other roles: the metrics port when set, else the process is alive.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["node", "/opt/swarmflow/bin/healthcheck.js"]
ENTRYPOINT ["/usr/bin/tini", "--", "swarmflow"]
CMD ["--help"]
