# jwt-cluster image: one stateless service instance. Build: docker build -t jwt-cluster .
# Nothing secret or local is baked in (see .dockerignore): signing keys, REFRESH_SECRET and
# the Redis/PostgreSQL URLs come from the environment, Docker secrets or Kubernetes Secrets.
# The config.yml baked in names no signing key: a cluster member mounts a config file naming
# its key files (CONFIG_FILE), as docker-compose.yml and deploy/k8s do.

ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build: full dependency tree, compile TypeScript to dist/ ----------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies only, non-root, tini as PID 1 ----------------------
FROM ${NODE_IMAGE} AS runtime

# tini reaps zombies and forwards SIGTERM to node, so the graceful drain runs on
# `docker stop` / pod termination. (Without it, `docker run --init` does the same.)
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*

ENV NODE_ENV=production
WORKDIR /app

# No production dependency has an install script (checked against package-lock.json);
# --ignore-scripts keeps it that way. @node-rs/argon2 ships prebuilt per-platform binaries.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

# Migrations are read at runtime from ../../drizzle relative to dist/users/migrate.js,
# so dist/ and drizzle/ sit side by side under /app.
COPY --from=build /app/dist ./dist
COPY drizzle ./drizzle
# The common-password list, read once at start-up from ../../assets relative to dist/passwords/.
COPY assets ./assets
COPY config.yml ./config.yml

# Code stays root-owned and read-only for the service user. /app/data is only written in
# the embedded single-instance mode (no cache.url / database.url); cluster members never
# write to disk, so the root filesystem can be mounted read-only.
RUN mkdir -p /app/data && chown node:node /app/data && chmod 700 /app/data
# By number (the image's "node" user): a pod with runAsNonRoot but no runAsUser is started only
# when the kubelet can see that the user is not root, which a name does not show.
USER 1000:1000

EXPOSE 8080

# Liveness (/ping), never the dependencies: Swarm replaces unhealthy tasks, and a Redis or
# PostgreSQL blip must not restart every replica at once (requests answer 503 meanwhile).
# The server listens only once migrations ran and Redis connected, so healthy = started.
# /health/ready (Redis and PostgreSQL reachable) is for alerting and for load balancers that
# should skip a replica cut off from them; deploy/k8s/README.md says why its readiness probe
# stays on /ping. slim has no curl: Node's fetch. It asks port $PORT (else 8080): a config file
# that sets another server.port needs PORT set to the same value, or the check fails.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/ping', { signal: AbortSignal.timeout(2500) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

ENTRYPOINT ["/usr/bin/tini", "--"]
# Runtime flags: src/node-flags.ts (a test keeps this line and that list the same).
CMD ["node", "--single-threaded-gc", "--min-semi-space-size=16", "--max-semi-space-size=16", "dist/main.js"]
