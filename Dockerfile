# syntax=docker/dockerfile:1
# stompd: STOMP broker over WebSocket (15674) and TCP (61613), persistent store on /data.

# ---- build: compile TypeScript and the native SQLite binding ----
FROM node:20-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# If no prebuilt better-sqlite3 binary can be downloaded, node-gyp compiles it against the headers
# node:20-slim ships in /usr/local/include/node (instead of downloading them from nodejs.org).
ENV npm_config_nodedir=/usr/local
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY lib ./lib
# Then only what runs: no dev dependencies, and of better-sqlite3's native build only the addon
# itself (its SQLite sources, object files and build tree are about 26 MB the broker never reads).
RUN npm run build && npm prune --omit=dev \
 && cd node_modules/better-sqlite3 \
 && mv build/Release/better_sqlite3.node /tmp/ \
 && rm -rf build deps src \
 && mkdir -p build/Release && mv /tmp/better_sqlite3.node build/Release/

# ---- runtime: only what the broker needs, as a non-root user ----
FROM node:20-slim
# jemalloc instead of glibc's malloc: idle connections cost less with it, and it gives freed
# memory back to the system by itself (its background thread does so even when the broker is
# idle and calls malloc no more), where with glibc the CLI has to call malloc_trim after a
# burst. See README, Docker.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libjemalloc2 \
 && rm -rf /var/lib/apt/lists/*
ENV LD_PRELOAD=libjemalloc.so.2 \
    MALLOC_CONF=background_thread:true \
    NODE_ENV=production \
    STOMPD_HOST=0.0.0.0 \
    STOMPD_PORT=15674 \
    STOMPD_TCP_PORT=61613 \
    STOMPD_STORE=sqlite:/data/stompd.db
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY examples ./examples
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 15674 61613
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.STOMPD_PORT || 15674) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Through the file's own `#!/usr/bin/env -S node ...` line, which carries stompd's node flags;
# env execs node, so node is PID 1 and handles SIGTERM itself: ERROR to every client, exit 0.
CMD ["/app/dist/cli.js"]
