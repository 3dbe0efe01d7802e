# CPU image for the lumbar-ai node services (receiver, worker, exporter, api): ONNX Runtime on the CPU
# (LUMBAR_EXECUTION_PROVIDERS=cpu, the default). Dockerfile.gpu is the same with CUDA 12 for GPU workers.
# Untested here: the dev machine has no Docker engine; test/integration/deploy-files.test.ts checks it
# statically (deploy/README.md says what was and was not checked). Python is not needed at run time.

# --- build: install, compile, drop dev dependencies
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY . .
RUN npm ci --no-audit --no-fund \
 && npx prisma generate \
 && npx tsc -b \
 && npm prune --omit=dev --no-audit --no-fund

# --- run
FROM node:20-bookworm-slim
# A numeric, non-root user: Kubernetes' runAsNonRoot can check a numeric USER (deploy/k8s).
RUN groupadd --system --gid 10001 lumbar \
 && useradd --system --uid 10001 --gid lumbar --home-dir /app --shell /usr/sbin/nologin lumbar \
 && mkdir -p /data && chown lumbar:lumbar /data
WORKDIR /app
COPY --from=build --chown=lumbar:lumbar /app /app
USER 10001:10001
ENV NODE_ENV=production LUMBAR_DATA_DIR=/data
# lumbar binds loopback by default; inside the container both ports must listen on all interfaces to be published
ENV LUMBAR_DICOM_HOST=0.0.0.0 LUMBAR_API_HOST=0.0.0.0
EXPOSE 11112 8080
# The API answers /healthz, the receiver accepts on its DICOM port; a worker or an exporter is healthy while
# it runs (deploy/healthcheck.js reads which service PID 1 runs).
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 CMD ["node", "deploy/healthcheck.js"]
# `lumbar serve` runs all four services; each compose or Kubernetes service runs one (`serve receiver`, ...).
CMD ["node", "packages/cli/dist/main.js", "serve"]
