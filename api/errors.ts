// One error path: routes throw these, one middleware turns them into problem+json (RFC 9457).
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { z } from 'zod';

export interface FieldError {
  path: string;
  message: string;
}

export class Problem extends Error {
  constructor(
    readonly status: number,
    readonly slug: string,
    readonly title: string,
    readonly detail?: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail ?? title);
  }
}

export const badRequest = (detail: string, errors: FieldError[] = []) => new Problem(400, 'validation', 'Invalid request', detail, { errors });
export const unauthorized = (detail = 'a valid API key is required: Authorization: Bearer <key>') => new Problem(401, 'unauthorized', 'Unauthorized', detail);
/** Anything the principal may not see is "not found", so existence never leaks. */
export const notFound = (what: string) => new Problem(404, 'not-found', 'Not found', `${what} not found`);
export const conflict = (detail: string, extra: Record<string, unknown> = {}) => new Problem(409, 'conflict', 'Conflict', detail, extra);
export const unprocessable = (slug: string, title: string, detail: string, extra: Record<string, unknown> = {}) => new Problem(422, slug, title, detail, extra);
export const forbiddenAction = (detail: string) => new Problem(403, 'forbidden', 'Forbidden', detail);
export const unsupportedMediaType = (detail = 'the request body must be application/json') => new Problem(415, 'unsupported-media-type', 'Unsupported media type', detail);

/** Zod issues → the field paths a caller can fix. */
export function fieldErrors(error: z.ZodError, prefix: string): FieldError[] {
  return error.issues.map((i) => ({ path: [prefix, ...i.path.map(String)].join('.'), message: i.message }));
}

export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, where: 'body' | 'query' | 'params'): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw badRequest(`the request ${where} is invalid`, fieldErrors(parsed.error, where));
  return parsed.data;
}

export const unknownRoute: RequestHandler = (req) => {
  throw new Problem(404, 'no-route', 'No such route', `${req.method} ${req.path} is not a route of this API`);
};

/**
 * 405 with `Allow` for a known path asked with another method (OPTIONS answers 204 with
 * `Allow`). Runs before authentication: the routes are public in the OpenAPI document.
 */
export function methodNotAllowed(routes: readonly { method: string; path: string }[]): RequestHandler {
  const byPath = new Map<string, { pattern: RegExp; template: string; allow: Set<string> }>();
  for (const r of routes) {
    const entry = byPath.get(r.path) ?? { pattern: templatePattern(r.path), template: r.path, allow: new Set<string>() };
    entry.allow.add(r.method.toUpperCase());
    if (r.method.toLowerCase() === 'get') entry.allow.add('HEAD');
    byPath.set(r.path, entry);
  }
  const known = [...byPath.values()];
  // The common case in one test: a method on a path some route of that method serves.
  const servedBy = new Map<string, RegExp>();
  for (const method of new Set(known.flatMap((k) => [...k.allow]))) {
    servedBy.set(method, new RegExp(known.filter((k) => k.allow.has(method)).map((k) => `(?:${k.pattern.source})`).join('|'), 'i'));
  }
  return (req, res, next) => {
    const path = req.path;
    if (servedBy.get(req.method)?.test(path)) {
      next();
      return;
    }
    const matches = known.filter((k) => k.pattern.test(path));
    if (matches.length === 0) {
      next();
      return;
    }
    const allow = [...new Set(matches.flatMap((k) => [...k.allow]))].sort();
    res.set('Allow', allow.join(', '));
    req.routeTemplate = matches[0]!.template;
    if (req.method === 'OPTIONS') {
      res.status(204).end();
      return;
    }
    throw new Problem(405, 'method-not-allowed', 'Method not allowed', `${req.method} is not allowed on ${path}`, { allow });
  };
}

/** `/v1/tasks/{taskId}` → a regex matching what express matches (case-insensitive, optional trailing slash). */
function templatePattern(template: string): RegExp {
  const body = template.split(/(\{\w+\})/).map((part) => (/^\{\w+\}$/.test(part) ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('');
  return new RegExp(`^${body}/?$`, 'i');
}

export function problemMiddleware(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    let problem: Problem;
    let outage: Dependency | undefined;
    if (err instanceof Problem) problem = err;
    else if (isBodyParserError(err)) {
      problem = err.type === 'entity.too.large'
        ? new Problem(413, 'too-large', 'Request body too large', `the body exceeds the limit of this API`)
        : err.status === 415
          ? unsupportedMediaType(err.message)
          : badRequest('the request body is not valid JSON', [{ path: 'body', message: err.message }]);
    } else if ((outage = unavailableDependency(err))) {
      log.warn({ reqId: req.id, dependency: outage, err: err instanceof Error ? err.message : String(err) }, 'dependency unavailable');
      problem = serviceUnavailable(outage);
    } else {
      log.error({ err, reqId: req.id }, 'unhandled error');
      problem = new Problem(500, 'internal', 'Internal error', 'an unexpected error occurred; it has been logged');
    }
    if (problem.status === 503 && !res.get('Retry-After')) res.set('Retry-After', String(RETRY_AFTER_SECONDS));
    res.status(problem.status).type('application/problem+json').json({
      type: `/problems/${problem.slug}`,
      title: problem.title,
      status: problem.status,
      ...(problem.detail ? { detail: problem.detail } : {}),
      instance: req.originalUrl,
      ...problem.extra,
    });
  };
}

// Outages (issue 11): a dependency out of reach is a 503 with Retry-After naming it, never a
// 500 or a hang; the caller retries the same request (starts and completions are idempotent).

export type Dependency = 'database' | 'temporal';

/** What a 503 tells callers to wait before retrying. */
export const RETRY_AFTER_SECONDS = 5;

export const serviceUnavailable = (dependency: Dependency) =>
  new Problem(503, 'service-unavailable', 'Service unavailable', `${dependency === 'database' ? 'the database' : 'Temporal'} is unreachable or overloaded: retry in ${RETRY_AFTER_SECONDS} s`, { dependency });

// Node socket errors, raised as they are by pg (the only socket client on a request's path
// that does not wrap them: Temporal's surface as gRPC statuses).
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH', 'ENETDOWN', 'ENOTFOUND', 'EAI_AGAIN']);
// pg and pg-pool say a connection was lost or never made with plain Errors.
const PG_CONNECTION_MESSAGE = /^(Connection terminated|timeout exceeded when trying to connect|timeout expired|Query read timeout|Client has encountered a connection error|Client was closed and is not queryable)/;
// SQLSTATE: 08 connection exception, 53 insufficient resources, 57P01-05 shutdown / cannot connect now, 57014 cancelled (statement timeout).
const PG_SQLSTATE = /^(08...|53...|57P0[1-5]|57014)$/;
// gRPC status: 4 DEADLINE_EXCEEDED, 8 RESOURCE_EXHAUSTED (e.g. too many updates in flight), 14 UNAVAILABLE.
const GRPC_UNAVAILABLE = new Set([4, 8, 14]);

/** The dependency an error says is out of reach (its cause chain included), if any. */
export function unavailableDependency(err: unknown): Dependency | undefined {
  const seen = new Set<unknown>();
  const queue: unknown[] = [err];
  while (queue.length > 0 && seen.size < 16) {
    const e = queue.shift();
    if (typeof e !== 'object' || e === null || seen.has(e)) continue;
    seen.add(e);
    const { code, details, metadata, message, cause, errors } = e as { code?: unknown; details?: unknown; metadata?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
    if (typeof code === 'number' && typeof details === 'string' && metadata !== undefined) {
      if (GRPC_UNAVAILABLE.has(code)) return 'temporal';
    } else if (typeof code === 'string' && (SOCKET_CODES.has(code) || PG_SQLSTATE.test(code))) return 'database';
    else if (typeof message === 'string' && PG_CONNECTION_MESSAGE.test(message)) return 'database';
    queue.push(cause, ...(Array.isArray(errors) ? (errors as unknown[]) : []));
  }
  return undefined;
}

function isBodyParserError(err: unknown): err is { type: string; status: number; message: string } {
  return typeof err === 'object' && err !== null && 'type' in err && typeof (err as { type: unknown }).type === 'string' && 'status' in err;
}
