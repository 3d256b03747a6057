# syntax=docker/dockerfile:1
# Liên thông gateway. Build: docker build -t lienthong .
# test/production-start.test.ts reads this file and boots exactly its layout (the COPY lines, the
# npm ci command, ENV and CMD) with NODE_ENV=production: whatever runs must be a dependency and
# live under bin, src, adapters or openapi. certs-sample/ is not in the image on purpose.
# Node.js 22 LTS: the runtime oidc-provider and the other dependencies support (Node 20 is past its
# end of life). Both stages use the same image, so better-sqlite3 is built for the node that runs it.
FROM node:22-bookworm-slim AS deps
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
    && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev

FROM node:22-bookworm-slim
ENV NODE_ENV=production PORT=8080 HOST=0.0.0.0
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY src ./src
COPY adapters ./adapters
COPY openapi ./openapi
COPY console ./console
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Configuration: LIENTHONG_CONFIG (a mounted YAML file), DATABASE_URL, REDIS_URL, UPSTREAM_*_URL.
CMD ["node", "bin/lienthong.js", "serve"]
