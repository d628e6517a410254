# syntax=docker/dockerfile:1
# Build with dev dependencies, run with production ones only, as a non-root user.
FROM node:26-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:26-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:26-slim
# No AUTH_MODE here: a production start without it stops, naming it (docker run -e AUTH_MODE=…, or compose's .env).
# GLIBC_TUNABLES: glibc's malloc backs its large blocks (the indexes' typed arrays) with transparent
# huge pages, so filling them at a start faults a tenth as often (load/processes.ts, DEPLOYED_ENV).
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    GLIBC_TUNABLES=glibc.malloc.hugetlb=1
WORKDIR /app
COPY --from=deps --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --chown=node:node package.json ./
# DATA_DIR's mount point, owned by the user that writes it (a named volume takes this ownership).
RUN mkdir /data && chown node:node /data
USER node
EXPOSE 3000
# No curl in the image: Node's own fetch probes the liveness route.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Node is PID 1's child of nothing: run it directly so it receives SIGTERM and closes gracefully.
CMD ["node", "dist/server.js"]
