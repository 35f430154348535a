# syntax=docker/dockerfile:1
# gong-bridge container image. Two stages: one compiles TypeScript, the other carries only the
# compiled JavaScript, the Avro schemas and production dependencies, so no compiler or dev tool
# reaches production.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
# Dependencies first so the npm layer is reused while only sources change.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: no production dependency needs an install script, and skipping them keeps the
# build from running code fetched from the registry.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="gong-bridge" \
      org.opencontainers.image.description="Delivers Avro interaction events from Kafka to Gong's API" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"

# Nothing is written to disk at run time, so the root filesystem can be mounted read-only. The
# process is started by node directly, never through npm, whose cache and update check would try
# to write under $HOME.
ENV NODE_ENV=production \
    HTTP_PORT=9464

WORKDIR /app
# Files stay owned by root and are not writable by the runtime user: the process cannot change
# its own code even when the filesystem is not read-only.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY schemas ./schemas
COPY package.json ./

# uid 10001 rather than the image's `node` (1000): a uid no host account is likely to share.
# Numeric so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
RUN groupadd --system --gid 10001 gong-bridge \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin gong-bridge
USER 10001:10001

EXPOSE 9464

# Node runs as PID 1 without tini on purpose: the CLI installs SIGTERM and SIGINT handlers that
# drain in-flight deliveries and commit before exiting (a second signal exits at once), and the
# bridge spawns no child processes, so there are no zombies to reap. The kernel's rule that
# PID 1 ignores signals without a handler does not apply because handlers are installed.
# With `docker run`, `--init` is harmless if wanted.
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["run"]

# Kubernetes ignores HEALTHCHECK and uses the chart's probes; this serves `docker run` and
# compose. Node's fetch avoids shipping curl or wget in the image.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||9464)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
