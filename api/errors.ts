// One error path: routes throw these, one middleware turns them into problem+json (RFC 9457).
import { unescape as lenientUnescape } from 'node:querystring';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { findUnstorable, printable } from '../db/storable';

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

/** How deep a request's JSON may nest: deeper is no business document, and costly to walk. */
export const MAX_JSON_DEPTH = 32;

/**
 * Strings PostgreSQL cannot store (NUL, unpaired surrogates) anywhere in a request value, its
 * keys included, and nesting past MAX_JSON_DEPTH: the fields a caller must fix.
 */
export function unstorableFieldErrors(value: unknown, prefix: string): FieldError[] {
  return findUnstorable(value, { maxDepth: MAX_JSON_DEPTH }).map((i) => ({ path: [prefix, ...i.path.map(String)].join('.'), message: i.message }));
}

export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, where: 'body' | 'query' | 'params'): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw badRequest(`the request ${where} is invalid`, fieldErrors(parsed.error, where));
  return parsed.data;
}

/**
 * Malformed %-encoding in the path or the query is a 400 naming where, before a route decodes
 * it (the router would throw a URIError; the query parser would guess).
 */
export const refuseMalformedUrl: RequestHandler = (req, _res, next) => {
  const at = req.url.indexOf('?');
  const errors: FieldError[] = [];
  if (!decodes(at < 0 ? req.url : req.url.slice(0, at))) errors.push({ path: 'path', message: 'malformed %-encoding' });
  if (at >= 0) {
    for (const pair of req.url.slice(at + 1).split('&')) {
      const cut = pair.indexOf('=');
      const name = cut < 0 ? pair : pair.slice(0, cut);
      if (!decodes(name) || (cut >= 0 && !decodes(pair.slice(cut + 1)))) {
        errors.push({ path: `query.${printable(lenientUnescape(name.replace(/\+/g, ' ')))}`, message: 'malformed %-encoding' });
      }
    }
  }
  if (errors.length > 0) throw badRequest('the request URL is not well-formed', errors);
  next();
};

function decodes(text: string): boolean {
  try {
    decodeURIComponent(text.replace(/\+/g, ' '));
    return true;
  } catch {
    return false;
  }
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
    else if (isClientError(err)) {
      problem = clientProblem(err);
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

/**
 * What the body parser and the router throw about a request (http-errors and a decoding
 * URIError carry a 4xx `status`): the caller's mistake, never a 500.
 */
function isClientError(err: unknown): err is { status: number; type?: unknown; message: string } {
  if (typeof err !== 'object' || err === null) return false;
  const { status, type, expose } = err as { status?: unknown; type?: unknown; expose?: unknown };
  const fromParser = typeof type === 'string' || expose === true || err instanceof URIError;
  return fromParser && typeof status === 'number' && status >= 400 && status < 500;
}

function clientProblem(err: { status: number; type?: unknown; message: string }): Problem {
  if (err.status === 413 || err.type === 'entity.too.large') return new Problem(413, 'too-large', 'Request body too large', 'the body exceeds the limit of this API');
  if (err.status === 415) return unsupportedMediaType(err.message);
  if (err.type === 'entity.parse.failed') return badRequest('the request body is not valid JSON', [{ path: 'body', message: err.message }]);
  if (err instanceof URIError) return badRequest('the request URL is not well-formed', [{ path: 'path', message: 'malformed %-encoding' }]);
  if (err.type === undefined && err.status === 400 && 'errno' in err) {
    // A compressed body that does not decompress (zlib's error, re-thrown as a 400).
    return badRequest('the request body could not be decoded', [{ path: 'body', message: `not valid for its Content-Encoding: ${err.message}` }]);
  }
  return badRequest('the request could not be read', [{ path: 'body', message: err.message }]);
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
