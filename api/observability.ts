// What operators watch: request ids and request logs, liveness, readiness and Prometheus metrics.
// Logs and metric labels never carry keys, bodies or raw paths (ids stay out of label values).
import { randomUUID } from 'node:crypto';
import { Router, type RequestHandler } from 'express';
import { sql, type Kysely } from 'kysely';
import { pino, type DestinationStream, type Logger } from 'pino';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Schema } from '../db/schema';
import type { TemporalHandle } from '../temporal/client';

declare module 'express-serve-static-core' {
  interface Request {
    /** The route template (`/v1/tasks/{taskId}`) the request matched: the metrics label. */
    routeTemplate?: string;
  }
}

/** Field names whose values never reach a log line, wherever they are nested (two levels). */
const SECRET_FIELDS = ['authorization', 'cookie', 'key', 'apiKey', 'secret', 'password', 'token', 'body', 'payload', 'submission'];

/** The deployment's logger: redacts keys, secrets and bodies even when a caller logs an object holding them. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const paths = SECRET_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`]);
  return pino({ level, redact: { paths, censor: '[redacted]' } }, destination);
}

// Process-wide metrics: one registry for the Node process, merged into each app's /metrics.
const processRegistry = new Registry();
collectDefaultMetrics({ register: processRegistry });
const processesStarted = new Counter({
  name: 'mandate_processes_started_total',
  help: 'Processes created through the API, by process type',
  labelNames: ['process_type'],
  registers: [processRegistry],
});

/** Counts a process the API created (not a retry that found the existing one). */
export function countProcessStarted(processType: string): void {
  processesStarted.inc({ process_type: processType });
}

export interface ObservabilityDeps {
  db: Kysely<Schema>;
  temporal: TemporalHandle;
  log: Logger;
  /** Each readiness check fails after this long (default 2 s). */
  readyTimeoutMs?: number;
  /** How long the open-task counts are reused between scrapes (default 5 s). */
  tasksOpenCacheMs?: number;
}

export interface Observability {
  /** Request id, access log line and duration histogram for every request. */
  requestContext: RequestHandler;
  /** `/healthz`, `/readyz`, `/metrics`. */
  routes: Router;
  registry: Registry;
}

export function createObservability(deps: ObservabilityDeps): Observability {
  const appRegistry = new Registry();
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by method, route template and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [appRegistry],
  });
  const openTasks = openTasksByParty(deps.db, deps.log, deps.tasksOpenCacheMs ?? 5_000);
  new Gauge({
    name: 'mandate_tasks_open',
    help: 'Open tasks by assigned party',
    labelNames: ['party'],
    registers: [appRegistry],
    async collect() {
      const counts = await openTasks();
      if (!counts) return; // The last values stay; the failure is logged.
      this.reset();
      for (const { party, count } of counts) this.set({ party }, count);
    },
  });
  const registry = Registry.merge([processRegistry, appRegistry]);

  const requestContext: RequestHandler = (req, res, next) => {
    const given = req.get('x-request-id');
    req.id = given && /^[\w.-]{1,64}$/.test(given) ? given : randomUUID();
    res.set('x-request-id', req.id);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = routeTemplateOf(req);
      duration.observe({ method: req.method, route, status: String(res.statusCode) }, seconds);
      // Never headers, query strings or bodies: they carry keys and personal data.
      deps.log.info({ reqId: req.id, method: req.method, route, path: req.path, status: res.statusCode, ms: Math.round(seconds * 1e5) / 100 }, 'request');
    });
    next();
  };

  const routes = Router();
  routes.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  routes.get('/readyz', async (req, res) => {
    const ms = deps.readyTimeoutMs ?? 2_000;
    const checks = {
      database: await probe(() => sql`select 1`.execute(deps.db), ms),
      temporal: await probe(() => {
        const connection = deps.temporal.client.connection;
        return connection.withDeadline(Date.now() + ms, () => connection.workflowService.getSystemInfo({}));
      }, ms),
    };
    const down = Object.entries(checks).filter(([, c]) => c !== 'ok').map(([name]) => name);
    if (down.length === 0) {
      res.json({ status: 'ready', checks });
      return;
    }
    deps.log.warn({ checks }, 'not ready');
    res.status(503).type('application/problem+json').json({
      type: '/problems/not-ready',
      title: 'Not ready',
      status: 503,
      detail: `not ready: ${down.join(', ')} ${down.length === 1 ? 'is' : 'are'} down`,
      instance: req.originalUrl,
      down,
      checks,
    });
  });
  routes.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  return { requestContext, routes, registry };
}

/** The label of a request: the template of the route it matched, never the raw path. */
function routeTemplateOf(req: Parameters<RequestHandler>[0]): string {
  if (req.routeTemplate) return req.routeTemplate;
  const path: unknown = req.route?.path;
  return typeof path === 'string' ? req.baseUrl + path : 'unmatched';
}

/** "ok", or why the dependency did not answer within `ms`. */
async function probe(check: () => Promise<unknown>, ms: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${ms} ms`), ms);
  });
  try {
    return await Promise.race([check().then(() => 'ok'), timeout]);
  } catch (err) {
    return `down: ${err instanceof Error ? err.message.split('\n')[0]!.slice(0, 200) : 'error'}`;
  } finally {
    clearTimeout(timer);
  }
}

/** One grouped query per cache period, however often Prometheus scrapes. */
function openTasksByParty(db: Kysely<Schema>, log: Logger, cacheMs: number) {
  let cached: { at: number; counts: Promise<{ party: string; count: number }[] | undefined> } | undefined;
  return () => {
    const now = Date.now();
    if (!cached || now - cached.at > cacheMs) {
      const counts = db
        .selectFrom('tasks')
        .select(['party_id', (eb) => eb.fn.countAll<string>().as('n')])
        .where('status', '=', 'open')
        .groupBy('party_id')
        .execute()
        .then((rows) => rows.map((r) => ({ party: r.party_id, count: Number(r.n) })))
        .catch((err: unknown) => {
          log.warn({ err }, 'counting open tasks for metrics failed');
          cached = undefined;
          return undefined;
        });
      cached = { at: now, counts };
    }
    return cached.counts;
  };
}
