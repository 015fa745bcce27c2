// Routes are declared once: the same zod schemas validate requests and describe them in
// the OpenAPI document, so the spec cannot drift from what the API accepts.
import { OpenAPIRegistry, OpenApiGeneratorV31, extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import type { Router} from 'express';
import { type Request, type Response } from 'express';
import { z } from 'zod';
import type { Principal } from '../db/api-keys';
import { mayUseRoute } from '../domain/authorization';
import { principalOf } from './auth';
import { authorize } from './services/authorize';
import { badRequest, parseOrThrow, unstorableFieldErrors, unsupportedMediaType, type FieldError } from './errors';

extendZodWithOpenApi(z);

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi('Problem', { description: 'RFC 9457 problem details; validation problems list each failing field.' });

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
type AnyObject = z.ZodObject<z.ZodRawShape>;
type NoInput = z.ZodObject<Record<string, never>>;

export interface RouteSpec<P extends AnyObject, Q extends AnyObject, B extends z.ZodType> {
  method: Method;
  /** OpenAPI style, relative to the mount point: `/tasks/{taskId}`. */
  path: string;
  summary: string;
  description?: string;
  /** Defaults to method + path words (`postTasksTaskIdComplete`); unique across the API. */
  operationId?: string;
  tags: string[];
  /** Routes are authenticated unless they say otherwise. */
  public?: boolean;
  params?: P;
  query?: Q;
  body?: B;
  headers?: AnyObject;
  responses: Record<number, { description: string; schema?: z.ZodType }>;
}

export interface RouteContext<P extends AnyObject, Q extends AnyObject, B extends z.ZodType> {
  req: Request;
  res: Response;
  params: z.infer<P>;
  query: z.infer<Q>;
  body: z.infer<B>;
  /** Only on authenticated routes. */
  principal: Principal;
}

const problemResponses = {
  400: 'Invalid request: each failing field is listed in `errors`',
  401: 'Missing, unknown or revoked API key',
  404: 'Not found, or not visible to the caller',
  413: 'The request body exceeds the size limit',
  415: 'The request body is not `application/json`',
} as const;

export class ApiSpec {
  readonly registry = new OpenAPIRegistry();
  private readonly routes: { method: Method; path: string }[] = [];

  constructor(private readonly prefix: string) {
    this.registry.registerComponent('securitySchemes', 'apiKey', { type: 'http', scheme: 'bearer', description: 'An API key of a user or an agent: `Authorization: Bearer mk_…`' });
  }

  /** Registers the route in the spec and on the router; the handler gets parsed inputs. */
  route<P extends AnyObject = NoInput, Q extends AnyObject = NoInput, B extends z.ZodType = z.ZodUndefined>(
    router: Router,
    spec: RouteSpec<P, Q, B>,
    handler: (ctx: RouteContext<P, Q, B>) => Promise<void> | void,
  ): void {
    const responses: Record<string, { description: string; content?: Record<string, { schema: z.ZodType }> }> = {};
    for (const [status, r] of Object.entries(spec.responses)) {
      responses[status] = r.schema ? { description: r.description, content: { 'application/json': { schema: r.schema } } } : { description: r.description };
    }
    for (const [status, description] of Object.entries(problemResponses)) {
      if (status === '401' && spec.public) continue;
      if (status === '400' && !spec.params && !spec.query && !spec.body) continue;
      if ((status === '413' || status === '415') && !spec.body) continue;
      responses[status] ??= { description, content: { 'application/problem+json': { schema: ProblemSchema } } };
    }
    for (const [status, r] of Object.entries(spec.responses)) {
      if (Number(status) >= 400) responses[status] = { description: r.description, content: { 'application/problem+json': { schema: ProblemSchema } } };
    }
    this.registry.registerPath({
      method: spec.method,
      path: this.prefix + spec.path,
      summary: spec.summary,
      description: spec.description,
      tags: spec.tags,
      operationId: spec.operationId ?? operationId(spec.method, spec.path),
      security: spec.public ? [] : [{ apiKey: [] }],
      request: {
        ...(spec.params ? { params: spec.params } : {}),
        ...(spec.query ? { query: spec.query } : {}),
        ...(spec.headers ? { headers: spec.headers } : {}),
        ...(spec.body ? { body: { required: true, content: { 'application/json': { schema: spec.body } } } } : {}),
      },
      responses,
    });
    this.routes.push({ method: spec.method, path: this.prefix + spec.path });

    const expressPath = spec.path.replace(/\{(\w+)\}/g, ':$1');
    const template = this.prefix + spec.path;
    router[spec.method](expressPath, async (req, res) => {
      req.routeTemplate = template;
      // Least privilege for machines, before anything is read: an agent's key reaches only the agent routes.
      if (!spec.public) authorize(mayUseRoute({ actor: principalOf(req), template: spec.path }));
      // A body that is not JSON was not parsed: refuse it rather than validate "no body".
      if (spec.body && req.is(['application/json', '+json']) === false) throw unsupportedMediaType();
      refuseUnstorable(req, spec);
      const ctx = {
        req,
        res,
        params: spec.params ? parseOrThrow(spec.params, req.params, 'params') : {},
        query: spec.query ? parseOrThrow(spec.query, req.query, 'query') : {},
        body: spec.body ? parseOrThrow(spec.body, req.body ?? {}, 'body') : undefined,
        principal: spec.public ? (undefined as unknown as Principal) : principalOf(req),
      } as RouteContext<P, Q, B>;
      await handler(ctx);
    });
  }

  /** Every declared route, for the test that checks the spec against the routes. */
  declaredRoutes(): readonly { method: Method; path: string }[] {
    return this.routes;
  }

  document(info: { version: string; servers?: { url: string }[] }) {
    return new OpenApiGeneratorV31(this.registry.definitions).generateDocument({
      openapi: '3.1.0',
      info: {
        title: 'Mandate API',
        version: info.version,
        description: 'Runs the work of IT-outsourcing contracts: start processes, work your inbox, read the evidence.',
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
      },
      servers: info.servers ?? [{ url: '/', description: 'This deployment' }],
      security: [{ apiKey: [] }],
      tags: this.tags(),
    });
  }

  /** The tags routes use, each described (a new area adds its line to TAG_DESCRIPTIONS). */
  private tags(): { name: string; description: string }[] {
    const used = new Set(this.registry.definitions.flatMap((d) => (d.type === 'route' ? (d.route.tags ?? []) : [])));
    return [...used].sort().map((name) => ({ name, description: TAG_DESCRIPTIONS[name] ?? `${name} routes` }));
  }
}

const TAG_DESCRIPTIONS: Record<string, string> = {
  administration: 'Parties, their users, agents, API keys and webhooks (admin role).',
  agents: "A party agent's jobs: fetch, heartbeat, report the result.",
  contracts: 'Contracts, their immutable versions, activation, termination and coverage.',
  monitoring: 'Monitoring alerts that open incidents (signed, or by the provider\'s monitoring agent).',
  processes: 'Start, read and cancel processes; read their tamper-evident journal.',
  runbooks: 'Runbooks written as data: register versions (provider operators), read them; run one as the `runbook` process.',
  schedules: "Recurring work derived from a contract's schedules (Temporal Schedules).",
  tasks: "The party's inbox: read, complete and reassign human tasks.",
};

/**
 * The one check of every string a route reads (path, query, the headers it declares, the body at
 * any depth, free-form records included), before its schema: PostgreSQL cannot store NUL or an
 * unpaired surrogate, and a process started with one would stall on its first journal write.
 */
function refuseUnstorable(req: Request, spec: { headers?: AnyObject; body?: z.ZodType }): void {
  const errors: FieldError[] = [...unstorableFieldErrors(req.params, 'params'), ...unstorableFieldErrors(req.query, 'query')];
  for (const name of Object.keys(spec.headers?.shape ?? {})) {
    const value = req.get(name);
    if (value !== undefined) errors.push(...unstorableFieldErrors(value, `header.${name}`));
  }
  if (spec.body) errors.push(...unstorableFieldErrors(req.body, 'body'));
  if (errors.length === 0) return;
  const tooDeep = errors.every((e) => e.message.startsWith('nested deeper'));
  throw badRequest(tooDeep ? 'the request body nests too deep' : 'the request holds text that cannot be stored (NUL or an unpaired surrogate)', errors);
}

function operationId(method: Method, path: string): string {
  const words = path.split('/').filter(Boolean).map((p) => p.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : '')));
  return method + words.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
}
