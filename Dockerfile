# crypto-risk-monitor: the bot and its jobs. Build: docker build -t crypto-risk-monitor .
# Run the embedded default with its data on a volume, the local console published on port 3000
# (inside a container it must listen beyond loopback; it has no login, so publish it to this host only):
#   docker run --rm -v crypto-data:/data -e CONSOLE_HOST=0.0.0.0 -p 127.0.0.1:3000:3000 crypto-risk-monitor
# tests/e2e/container.test.ts follows this file stage by stage without Docker and starts the result:
# keep to the instructions it knows (FROM, WORKDIR, COPY, RUN, ENV, USER, VOLUME, EXPOSE,
# HEALTHCHECK, ENTRYPOINT, CMD).

# Node 24, the active LTS line (https://nodejs.org/en/about/previous-releases); Node 20 is past its end of life.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Optional dependencies carry the native DuckDB binary: never omit them.
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The build also copies the console's page into dist; pruning leaves the production dependencies.
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
# tini as PID 1 forwards SIGTERM/SIGINT to node (which stops its jobs cleanly on either) and reaps
# zombies, which node as PID 1 would not (https://github.com/krallin/tini#why-tini). It is Debian's
# package, so the image is built from registries alone. /data belongs to the unprivileged user `node`
# (1000:1000): it is the only place the app writes.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini=0.19.0-1+b3 \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /data \
    && chown 1000:1000 /data
# Metrics listen beyond loopback here, so that a Prometheus can scrape the container's port 9464 (a
# process on a host keeps them on loopback); publish or expose that port only to the scraper.
# MALLOC_ARENA_MAX=2: glibc keeps a malloc arena per thread that allocated (node's, DuckDB's) and
# holds freed memory in each; two arenas measured 180–189 MB idle instead of 195–217 MB.
ENV NODE_ENV=production \
    DATA_DIR=/data \
    METRICS_HOST=0.0.0.0 \
    MALLOC_ARENA_MAX=2
WORKDIR /app
# Only what the app reads at run time, owned by root so the app cannot change itself: its build and
# production dependencies (the DejaVu fonts of the charts among them), the SQL it runs, the Slack
# manifest the local console's Slack reads the app's scopes from, and the notebooks and helpers the
# provisioner deploys to a Databricks workspace.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY sql ./sql
COPY slack ./slack
COPY databricks/notebooks ./databricks/notebooks
COPY databricks/lib ./databricks/lib
# The official image's unprivileged user `node`, by number so that Kubernetes' runAsNonRoot can
# check it (https://kubernetes.io/docs/tasks/configure-pod-container/security-context/).
USER 1000:1000
VOLUME ["/data"]
EXPOSE 3000 9464
# The same /healthz that a Kubernetes liveness probe asks; the slim image has no curl, node has fetch.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# No --enable-source-maps: Node would keep the source maps of every module it loads (measured: 12 MB
# of an idle process), and the compiled dist/*.js that stack traces name is readable as it is.
ENTRYPOINT ["tini", "--", "node", "dist/cli.js"]
CMD ["run"]
