# crypto-risk-monitor: the bot and its jobs. Build: docker build -t crypto-risk-monitor .
# Run the embedded default with its data on a volume, the local console published on port 3000
# (inside a container it must listen beyond loopback; it has no login, so publish it to this host only):
#   docker run --rm -v crypto-data:/data -e CONSOLE_HOST=0.0.0.0 -p 127.0.0.1:3000:3000 crypto-risk-monitor
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Optional dependencies carry the native DuckDB binary: never omit them.
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    DATA_DIR=/data
WORKDIR /app
RUN mkdir -p /data && chown node:node /data
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY sql ./sql
# The local console's Slack reads the app's scopes from the manifest.
COPY slack ./slack
# The notebooks and helpers the provisioner deploys to a Databricks workspace.
COPY databricks/notebooks ./databricks/notebooks
COPY databricks/lib ./databricks/lib
USER node
VOLUME ["/data"]
EXPOSE 3000
ENTRYPOINT ["node", "--enable-source-maps", "dist/cli.js"]
CMD ["run"]
