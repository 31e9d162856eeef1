# syntax=docker/dockerfile:1
# Daybreak: one image for every process (web + scheduler, workers, bounce server) and for ops
# commands; the command picks. `docker compose run --rm app status national` and
# `docker compose exec app daybreak status national` both run the CLI (see docs/operations.md).

# ---- build: compile TypeScript to dist/ -------------------------------------------------------
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/prepare.js scripts/build.js ./scripts/
# `prepare` finds no sources yet at this point and skips; the build runs below, once they are copied.
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY workers ./workers
# TypeScript to dist/, plus the Lua scripts the compiled code reads beside itself.
RUN node scripts/build.js

# ---- runtime: production dependencies and compiled code only, as a non-root user -------------
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/prepare.js scripts/build.js ./scripts/
# No TypeScript here, so `prepare` skips; the compiled code comes from the build stage.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# bin/daybreak.js runs dist/ (there are no sources in the image to be newer than it).
COPY bin ./bin
COPY config ./config
COPY templates ./templates
COPY samples ./samples
# `daybreak` on the PATH, for `docker compose exec app daybreak …`; the outbox (used only when no
# SMTP_URL is set) writable by the app user.
RUN ln -s /app/bin/daybreak.js /usr/local/bin/daybreak && chmod 0755 /app/bin/daybreak.js \
    && mkdir -p /app/outbox && chown node:node /app/outbox
USER node
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "/app/bin/daybreak.js"]
CMD ["start"]
