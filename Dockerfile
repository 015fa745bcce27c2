# One image for every Mandate role: MANDATE_ROLE=api (HTTP API) or MANDATE_ROLE=worker
# (engine worker; run as many as needed on the same task queue). See docker-compose.yml.
# It talks to an external Temporal server (TEMPORAL_ADDRESS) and PostgreSQL (DATABASE_URL):
# the embedded dev server of `npm start` is not in the image.
FROM node:20-bookworm-slim

ENV NODE_ENV=production \
    MANDATE_DATA_DIR=/data \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false

WORKDIR /app

# Dependencies first, so a source change does not reinstall them. tsx is a runtime
# dependency (no build step), so dev dependencies stay out.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY --chown=root:root . .

# The app writes only under MANDATE_DATA_DIR; the code stays read-only for the app user.
RUN mkdir -p /data && chown node:node /data
USER node

EXPOSE 8080
CMD ["npx", "tsx", "scripts/start.ts"]
