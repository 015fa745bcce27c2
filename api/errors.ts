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
    if (err instanceof Problem) problem = err;
    else if (isBodyParserError(err)) {
      problem = err.type === 'entity.too.large'
        ? new Problem(413, 'too-large', 'Request body too large', `the body exceeds the limit of this API`)
        : err.status === 415
          ? unsupportedMediaType(err.message)
          : badRequest('the request body is not valid JSON', [{ path: 'body', message: err.message }]);
    } else {
      log.error({ err, reqId: req.id }, 'unhandled error');
      problem = new Problem(500, 'internal', 'Internal error', 'an unexpected error occurred; it has been logged');
    }
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

function isBodyParserError(err: unknown): err is { type: string; status: number; message: string } {
  return typeof err === 'object' && err !== null && 'type' in err && typeof (err as { type: unknown }).type === 'string' && 'status' in err;
}
