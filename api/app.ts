// The HTTP API, built by one function so tests listen on port 0 with real dependencies.
import { randomUUID } from 'node:crypto';
import express from 'express';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Schema } from '../db/schema';
import type { TemporalHandle } from '../temporal/client';
import { authenticate } from './auth';
import { docsRoutes } from './docs';
import { problemMiddleware, unknownRoute } from './errors';
import { ApiSpec } from './spec';
import { processRoutes } from './routes/processes';
import { taskRoutes } from './routes/tasks';

export const API_VERSION = '1.0.0';

/** Declares every v1 route on `router` and in the returned spec (also used by the spec test). */
export function defineV1(deps: ApiDeps, router: express.Router): ApiSpec {
  const spec = new ApiSpec('/v1');
  processRoutes(deps, spec, router);
  taskRoutes(deps, spec, router);
  return spec;
}

export interface ApiDeps {
  db: Kysely<Schema>;
  temporal: TemporalHandle;
  log: Logger;
  /** How long a task completion waits for the workflow before answering 202. */
  updateWaitMs?: number;
}

export function createApp(deps: ApiDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use((req, res, next) => {
    const given = req.get('x-request-id');
    req.id = given && /^[\w.-]{1,64}$/.test(given) ? given : randomUUID();
    res.set('x-request-id', req.id);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      // Never log headers or bodies: they carry keys and personal data.
      deps.log.info({ reqId: req.id, method: req.method, path: req.route?.path ?? req.path, status: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6 }, 'request');
    });
    next();
  });
  app.use(express.json({ limit: '256kb' }));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  const v1 = express.Router();
  v1.use(authenticate(deps.db));
  const spec = defineV1(deps, v1);
  const document = spec.document({ version: API_VERSION });
  app.get('/openapi.json', (_req, res) => {
    res.json(document);
  });
  app.use(docsRoutes());
  app.use('/v1', v1);

  app.use(unknownRoute);
  app.use(problemMiddleware(deps.log));
  return app;
}
