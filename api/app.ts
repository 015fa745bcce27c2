// The HTTP API, built by one function so tests listen on port 0 with real dependencies.
import express from 'express';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Schema } from '../db/schema';
import type { SecretBox } from '../db/secret-box';
import type { TemporalHandle } from '../temporal/client';
import { authenticate } from './auth';
import type { PrincipalCache } from './principal-cache';
import { docsRoutes } from './docs';
import { methodNotAllowed, problemMiddleware, refuseMalformedUrl, unknownRoute } from './errors';
import { createObservability } from './observability';
import { ApiSpec } from './spec';
import { contractRoutes } from './routes/contracts';
import { processRoutes } from './routes/processes';
import { taskRoutes } from './routes/tasks';
import { partyRoutes } from './routes/parties';
import { keyRoutes } from './routes/keys';
import { signingKeyRoutes } from './routes/signing-keys';
import { webhookRoutes } from './routes/webhooks';
import { agentRoutes } from './routes/agent';
import { scheduleRoutes } from './routes/schedules';
import { runbookRoutes } from './routes/runbooks';
import { keepRawBody, monitoringRoutes } from './routes/monitoring';

export const API_VERSION = '1.0.0';

/** Declares every v1 route on `router` and in the returned spec (also used by the spec test). */
export function defineV1(deps: ApiDeps, router: express.Router): ApiSpec {
  const spec = new ApiSpec('/v1');
  contractRoutes(deps, spec, router);
  processRoutes(deps, spec, router);
  taskRoutes(deps, spec, router);
  partyRoutes(deps, spec, router);
  keyRoutes(deps, spec, router);
  signingKeyRoutes(deps, spec, router);
  webhookRoutes(deps, spec, router);
  agentRoutes(deps, spec, router);
  scheduleRoutes(deps, spec, router);
  runbookRoutes(deps, spec, router);
  monitoringRoutes(deps, spec, router);
  return spec;
}

export interface ApiDeps {
  db: Kysely<Schema>;
  temporal: TemporalHandle;
  log: Logger;
  /** How long a task completion waits for the workflow before answering 202. */
  updateWaitMs?: number;
  /** MANDATE_ADMIN_KEY: an admin of the provider party (api/auth.ts). */
  adminKey?: string;
  /** Principals kept in memory while key changes are heard; without it every request reads its key. */
  principalCache?: PrincipalCache;
  /** Seals webhook secrets and replayable responses at rest (db/secret-box.ts). */
  secretBox?: SecretBox;
  /** The secrets a contract's monitoring alerts may be signed with (engine configuration `monitoring`). */
  monitoringSecrets?: (contractId: string) => readonly string[];
}

export function createApp(deps: ApiDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  const observability = createObservability(deps);
  app.use(observability.requestContext);
  // Before anything decodes the URL: malformed %-encoding is the caller's 400, not a router error.
  app.use(refuseMalformedUrl);

  const v1 = express.Router();
  v1.use(authenticate(deps.db, { adminKey: deps.adminKey, principalCache: deps.principalCache }));
  const spec = defineV1(deps, v1);
  const document = spec.document({ version: API_VERSION });
  // Before the body parser and authentication: a wrong method is 405 whatever the body or key.
  app.use(methodNotAllowed([...spec.declaredRoutes(), ...OPERATIONAL_ROUTES]));
  app.use(express.json({ limit: '256kb', verify: keepRawBody }));

  app.use(observability.routes);
  app.get('/openapi.json', (_req, res) => {
    res.json(document);
  });
  app.use(docsRoutes());
  app.use('/v1', v1);

  app.use(unknownRoute);
  app.use(problemMiddleware(deps.log));
  return app;
}

/** The routes outside v1, for the 405 check. */
const OPERATIONAL_ROUTES = ['/healthz', '/readyz', '/metrics', '/openapi.json', '/docs', '/docs/init.js'].map((path) => ({ method: 'get', path }));
