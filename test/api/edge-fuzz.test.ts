// Poison at the edge: every route of the OpenAPI document gets malformed bodies (NUL and lone
// surrogates in each string field, wrong types, deep nesting, broken JSON, content types and
// encodings) and malformed paths and queries. Nothing may answer 5xx, every refusal is
// problem+json, and no process starts with text its journal could not store.
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { issueApiKey } from '../../db/api-keys';
import { upsertUser } from '../../db/parties';
import { findUnstorable } from '../../db/storable';
import { waitFor } from '../support/harness';
import { enc, exampleDocument, onboarding, paths, startApiWorld, type ApiWorld, type Json } from './support';

let world: ApiWorld;
let processId: string;

beforeAll(async () => {
  world = await startApiWorld(import.meta.url);
  const db = world.mandate.database.db;
  await upsertUser(db, { id: 'u-edge-admin', partyId: 'nuvola', roles: ['admin', 'operator'] });
  world.keys.set('provider-admin-edge', (await issueApiKey(db, { partyId: 'nuvola', userId: 'u-edge-admin', roles: ['admin', 'operator'] })).key);
  // A party's people are its own admins' (the routes below name martin): the client's admin calls them.
  await upsertUser(db, { id: 'u-edge-martin-admin', partyId: 'martin', roles: ['admin'] });
  world.keys.set('client-admin-edge', (await issueApiKey(db, { partyId: 'martin', userId: 'u-edge-martin-admin', roles: ['admin'] })).key);
  const started = await world.call('client-op', 'POST', '/v1/contracts/ctr-martin-2027/processes', onboarding('emp-edge'));
  expect(started.status).toBe(201);
  processId = started.body.id as string;
}, 120_000);

afterAll(async () => {
  await world?.stop();
});

// ---- requests -------------------------------------------------------------------------------

interface Answer {
  status: number;
  type: string;
  body: Json;
}

let sent = 0;
/** Processes answered by any fuzz request (a mutation may well be a valid start), with the body that started them. */
const created: { id: string; body: string }[] = [];

async function send(who: string | undefined, method: string, url: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<Answer> {
  const key = who === undefined ? undefined : world.keys.get(who);
  sent++;
  const res = await fetch(`${world.mandate.apiUrl}${url}`, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body,
  });
  const text = await res.text();
  let parsed: Json;
  try {
    parsed = text ? (JSON.parse(text) as Json) : {};
  } catch {
    parsed = { text };
  }
  if (method === 'POST' && (res.status === 200 || res.status === 201) && /\/(processes|alerts)$/.test(url)) created.push({ id: parsed.id as string, body: String(body) });
  // Contracts and amendments are proposals, notice starts the exit: each is a process of Mandate.
  const contractProcess = method === 'POST' && res.status < 300 ? ((parsed.proposal as Json | undefined)?.processId ?? parsed.proposalProcessId ?? (parsed.exit as Json | undefined)?.processId) : undefined;
  if (typeof contractProcess === 'string') created.push({ id: contractProcess, body: String(body) });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: parsed };
}

/** Runs `jobs` a few at a time: the fuzz is many small requests. */
async function inPool<T>(jobs: (() => Promise<T>)[], width = 4): Promise<T[]> {
  const results: T[] = new Array<T>(jobs.length);
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]!();
    }
  }));
  return results;
}

// ---- the OpenAPI document -------------------------------------------------------------------

type Schema = Json;
interface Route {
  method: string;
  path: string;
  tag: string;
  params: string[];
  query: string[];
  body?: Schema;
}

let components: Record<string, Schema> = {};

async function routes(): Promise<Route[]> {
  const doc = (await send(undefined, 'GET', '/openapi.json')).body as { paths: Record<string, Record<string, Json>>; components: { schemas: Record<string, Schema> } };
  components = doc.components.schemas;
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => {
      const parameters = (op.parameters ?? []) as { in: string; name: string }[];
      return {
        method: method.toUpperCase(),
        path,
        tag: (op.tags as string[])[0]!,
        params: parameters.filter((p) => p.in === 'path').map((p) => p.name),
        query: parameters.filter((p) => p.in === 'query').map((p) => p.name),
        body: op.requestBody?.content?.['application/json']?.schema as Schema | undefined,
      };
    }),
  );
}

/** Who calls a route: its own kind of principal, so requests get as far as they can. */
function callerOf(route: Route): string {
  if (route.tag === 'agents') return 'client-agent';
  if (route.tag === 'administration' && route.params.includes('partyId') && !route.path.endsWith('/first-admin')) return 'client-admin-edge';
  if (route.tag === 'administration' || route.tag === 'runbooks') return 'provider-admin-edge';
  return 'client-op';
}

function concrete(route: Route, override: Record<string, string> = {}): string {
  const values: Record<string, string> = {
    contractId: 'ctr-martin-2027', processId: enc(processId), taskId: 'task-unknown', partyId: 'martin', version: '1',
    name: 'nightly-backup', keyId: 'key-unknown', webhookId: 'wh-unknown', jobId: 'job-unknown', key: 'restart-service',
  };
  return route.path.replace(/\{(\w+)\}/g, (_m, name: string) => override[name] ?? values[name] ?? 'x');
}

const resolve = (schema: Schema): Schema => (typeof schema.$ref === 'string' ? resolve(components[schema.$ref.split('/').pop()!]!) : schema);

/** A plausible value of a schema: the fields a caller would fill, to poison one at a time. */
function exampleOf(input: Schema, depth = 0): unknown {
  const schema = resolve(input);
  if (schema.example !== undefined) return structuredClone(schema.example);
  if (schema.default !== undefined) return structuredClone(schema.default);
  if (schema.const !== undefined) return schema.const;
  if (Array.isArray(schema.enum)) return schema.enum[0];
  const options = (schema.oneOf ?? schema.anyOf) as Schema[] | undefined;
  if (options) return exampleOf(options.find((o) => resolve(o).type !== 'null') ?? options[0]!, depth);
  if (Array.isArray(schema.allOf)) return Object.assign({}, ...(schema.allOf as Schema[]).map((s) => exampleOf(s, depth)));
  const type = Array.isArray(schema.type) ? (schema.type as string[]).find((t) => t !== 'null') : (schema.type as string | undefined);
  if (depth > 6) return 'x';
  switch (type) {
    case 'object': {
      const out: Json = {};
      for (const [name, property] of Object.entries((schema.properties ?? {}) as Record<string, Schema>)) out[name] = exampleOf(property, depth + 1);
      if (!schema.properties && typeof schema.additionalProperties === 'object') out.field = exampleOf(schema.additionalProperties as Schema, depth + 1);
      return out;
    }
    case 'array':
      return [exampleOf((schema.items ?? {}) as Schema, depth + 1)];
    case 'string':
      return schema.format === 'date-time' ? '2027-03-01T08:00:00Z' : schema.format === 'uri' ? 'https://hooks.example.org/mandate' : 'text';
    case 'integer':
    case 'number':
      return (schema.minimum as number | undefined) ?? 1;
    case 'boolean':
      return true;
    default:
      // Free-form (`input`, `payload`, `output`, `details`): a record of our own.
      return { note: 'free text', nested: { list: ['a', 'b'] } };
  }
}

/** The body a caller would send, by route: realistic documents where the schema is free-form. */
async function exampleBody(route: Route): Promise<unknown> {
  if (route.path.endsWith('/processes') && route.method === 'POST') return onboarding('emp-edge-fuzz');
  if (route.path === '/v1/contracts' || route.path.endsWith('/versions')) return { document: await exampleDocument() };
  return exampleOf(route.body!);
}

/** Every leaf of a JSON value, with its path. */
function leaves(value: unknown, path: (string | number)[] = []): { path: (string | number)[]; value: unknown }[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => leaves(v, [...path, i]));
  if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => leaves(v, [...path, k]));
  return [{ path, value }];
}

function withValue(value: unknown, path: (string | number)[], replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const copy = structuredClone(value) as Json;
  let at: Json = copy;
  for (const key of path.slice(0, -1)) at = at[key] as Json;
  at[path.at(-1)!] = replacement;
  return copy;
}

/** Nested `levels` deep: arrays, or objects. */
function nested(levels: number, kind: 'array' | 'object'): string {
  return kind === 'array' ? '['.repeat(levels) + '1' + ']'.repeat(levels) : '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);
}

// ---- what must hold -------------------------------------------------------------------------

const failures: string[] = [];

function check(label: string, res: Answer, expected?: { status?: number | number[]; path?: string }): void {
  const where = `${label} → ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`;
  if (res.status >= 500) failures.push(`5xx: ${where}`);
  if (res.status >= 400 && !res.type.includes('application/problem+json')) failures.push(`not problem+json: ${where}`);
  const statuses = expected?.status === undefined ? undefined : ([] as number[]).concat(expected.status);
  if (statuses && !statuses.includes(res.status)) failures.push(`expected ${statuses.join('|')}: ${where}`);
  if (expected?.path && !paths(res.body).includes(expected.path)) failures.push(`expected errors at ${expected.path}: ${where}`);
}

const POISON = ['ab\u0000cd', 'ab\ud800cd', '\udc00', 'x\ud83d'];
const MAX_FIELDS_PER_ROUTE = 40;
const URL_POISON = ['%00', 'a%00b', '%E0%A4%A', '%', '%zz', '%ED%A0%80', '%C0%80'];

// ---- the fuzz -------------------------------------------------------------------------------

describe('the poison of issue 11', () => {
  it("when an onboarding's laptop model holds NUL or a lone surrogate, then the start is 400 naming body.input.laptop.model and no process exists", async () => {
    for (const model of ['T14\u0000', 'T14\ud800']) {
      const body = onboarding(`emp-poison-${model.charCodeAt(3)}`);
      body.input = { ...body.input, laptop: { model, shipTo: 'Lyon HQ' } };
      const res = await world.call('client-op', 'POST', '/v1/contracts/ctr-martin-2027/processes', body);
      expect(res.status).toBe(400);
      expect(res.type).toContain('application/problem+json');
      expect(paths(res.body)).toEqual(['body.input.laptop.model']);
      const rows = await world.mandate.database.db.selectFrom('processes').select('id').where('business_key', '=', body.businessKey).execute();
      expect(rows).toEqual([]);
    }
  });

  it('when a cancel reason or an incident title holds NUL, then it is 400 naming the field and the process keeps running', async () => {
    const cancel = await world.call('client-op', 'POST', `/v1/processes/${enc(processId)}/cancel`, { reason: 'dup\u0000licate' });
    expect(cancel.status).toBe(400);
    expect(paths(cancel.body)).toEqual(['body.reason']);
    expect((await world.call('client-op', 'GET', `/v1/processes/${enc(processId)}`)).body.status).toBe('running');
    const alert = await world.call('provider-op', 'POST', '/v1/contracts/ctr-martin-2027/monitoring/alerts', { alertKey: 'disk-full:srv-erp-01', title: 'disk \ud800 full' });
    expect(alert.status).toBe(400);
    expect(paths(alert.body)).toEqual(['body.title']);
  });

  it('when an agent posts a result whose output holds NUL, then it is 400 naming the field', async () => {
    const res = await world.call('client-agent', 'POST', '/v1/agent/jobs/job-unknown/result', { ok: true, output: { log: ['fine', 'bro\u0000ken'] } });
    expect(res.status).toBe(400);
    expect(paths(res.body)).toEqual(['body.output.log.1']);
  });
});

describe('poison and malformed requests on every route', () => {
  let all: Route[];
  let started: number;
  let processesBefore: number;

  beforeEach(() => {
    failures.length = 0;
  });

  beforeAll(async () => {
    all = await routes();
    started = Date.now();
    processesBefore = (await world.mandate.database.db.selectFrom('processes').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n;
  });

  it('when a body string field holds NUL or a lone surrogate, then it is 400 naming that field', async () => {
    const jobs: (() => Promise<void>)[] = [];
    for (const route of all.filter((r) => r.body)) {
      const body = await exampleBody(route);
      const fields = leaves(body).filter((l) => typeof l.value === 'string');
      // Free-form records: a poisoned value and a poisoned key inside them.
      const freeForm = leaves(body).filter((l) => l.path.some((p) => ['input', 'payload', 'output', 'details', 'params', 'document'].includes(String(p)))).slice(0, 1);
      // A contract document has hundreds of strings: a spread of them, each with one poison in turn.
      const step = Math.max(1, Math.ceil(fields.length / MAX_FIELDS_PER_ROUTE));
      fields.filter((_f, i) => i % step === 0).forEach((field, i) => {
        for (const poison of fields.length <= 10 ? POISON : [POISON[i % POISON.length]!]) {
          const bad = withValue(body, field.path, poison);
          jobs.push(async () => check(`${route.method} ${route.path} body.${field.path.join('.')}=${JSON.stringify(poison)}`, await send(callerOf(route), route.method, concrete(route), JSON.stringify(bad)), { status: 400, path: ['body', ...field.path].join('.') }));
        }
      });
      for (const field of [...freeForm, { path: [] as (string | number)[] }]) {
        const parent = field.path.slice(0, -1);
        const bad = withValue(body, [...parent, 'extra\u0000key'], 'v');
        jobs.push(async () => check(`${route.method} ${route.path} key NUL under ${parent.join('.')}`, await send(callerOf(route), route.method, concrete(route), JSON.stringify(bad)), { status: 400, path: ['body', ...parent, 'extra\\u0000key'].join('.') }));
      }
    }
    await inPool(jobs);
    expect(jobs.length).toBeGreaterThan(100);
    expect(failures).toEqual([]);
  });

  it('when a path parameter or a query value holds NUL or malformed %-encoding, then it is 400', async () => {
    const jobs: (() => Promise<void>)[] = [];
    for (const route of all) {
      const who = callerOf(route);
      for (const param of route.params) {
        for (const bad of URL_POISON) {
          const expected = bad.includes('%00') ? { status: 400, path: `params.${param}` } : { status: 400 };
          jobs.push(async () => check(`${route.method} ${route.path} ${param}=${bad}`, await send(who, route.method, concrete(route, { [param]: bad }), route.body ? '{}' : undefined), expected));
        }
      }
      for (const name of [...route.query, 'zz']) {
        for (const bad of URL_POISON) {
          const expected = bad.includes('%00') ? { status: 400, path: `query.${name}` } : { status: 400 };
          jobs.push(async () => check(`${route.method} ${route.path}?${name}=${bad}`, await send(who, route.method, `${concrete(route)}?${name}=${bad}`, route.body ? '{}' : undefined), expected));
        }
      }
      jobs.push(async () => check(`${route.method} ${route.path}?%00=1`, await send(who, route.method, `${concrete(route)}?%00=1`, route.body ? '{}' : undefined), { status: 400 }));
    }
    await inPool(jobs);
    expect(failures).toEqual([]);
  });

  it('when a page cursor is 0, garbage or holds text PostgreSQL refuses, then it is 400 naming query.after', async () => {
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const cursors = ['0', 'garbage!', 'WyI', b64({}), b64([1, 2]), b64(['\u0000']), b64(['2027-01-01T00:00:00.000000Z', '\u0000']), b64(['2027-01-01T00:00:00.000000Z', '\ud800']), b64(['0', 'x'])];
    const jobs: (() => Promise<void>)[] = [];
    for (const route of all.filter((r) => r.query.includes('after'))) {
      for (const cursor of cursors) {
        // The inbox orders by due date: any instant Date.parse reads is a cursor there.
        const lenient = route.path === '/v1/tasks' && cursor === b64(['0', 'x']);
        jobs.push(async () => check(`${route.path}?after=${cursor}`, await send(callerOf(route), 'GET', `${concrete(route)}?after=${cursor}`), lenient ? { status: [200, 400] } : { status: 400, path: 'query.after' }));
      }
    }
    await inPool(jobs);
    expect(jobs.length).toBeGreaterThan(40);
    expect(failures).toEqual([]);
  });

  it('when query values are out of range or of the wrong type, then nothing is 5xx', async () => {
    const values = ['-1', '0', '1e999', 'abc', '', '0000-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '2027-02-30T00:00:00Z', 'a,b,,c', '%2C', 'x'.repeat(3000)];
    const jobs: (() => Promise<void>)[] = [];
    for (const route of all.filter((r) => r.method === 'GET')) {
      for (const name of route.query) {
        // A valid wait would long-poll: the fuzz only sends waits the schema refuses.
        for (const value of name === 'wait' ? ['-1', 'abc', '1e999'] : values) {
          jobs.push(async () => check(`GET ${route.path}?${name}=${value.slice(0, 40)}`, await send(callerOf(route), 'GET', `${concrete(route)}?${name}=${encodeURIComponent(value)}`)));
        }
        jobs.push(async () => check(`GET ${route.path}?${name} twice`, await send(callerOf(route), 'GET', `${concrete(route)}?${name}=1&${name}=2`)));
      }
    }
    await inPool(jobs);
    expect(failures).toEqual([]);
  });

  it('when a body is broken JSON, of the wrong type, too deep, of another content type or encoding, then it is refused with a 4xx problem', async () => {
    const jobs: (() => Promise<void>)[] = [];
    for (const route of all.filter((r) => r.method !== 'GET' && r.method !== 'DELETE')) {
      const who = callerOf(route);
      // A route without a body acts on its resource (trigger, activate): an unknown one, so it cannot.
      const url = route.body ? concrete(route) : concrete(route, { contractId: 'ctr-unknown', name: 'no-such', partyId: 'no-such' });
      const body = route.body ? await exampleBody(route) : {};
      const json = JSON.stringify(body);
      const cases: [string, string | Buffer, Record<string, string>, number | number[] | undefined][] = [
        ['broken JSON', '{"a":', {}, 400],
        ['trailing comma', '{"a":1,}', {}, 400],
        ['a bare string', '"text"', {}, 400],
        ['null', 'null', {}, 400],
        ['a number', '12', {}, 400],
        ['deep arrays', nested(50_000, 'array'), {}, route.body ? 400 : undefined],
        ['deep objects', nested(20_000, 'object'), {}, route.body ? 400 : undefined],
        ['33 levels', nested(33, 'object'), {}, route.body ? 400 : undefined],
        ['text/plain', json, { 'content-type': 'text/plain' }, route.body ? 415 : undefined],
        ['form', 'a=1', { 'content-type': 'application/x-www-form-urlencoded' }, route.body ? 415 : undefined],
        ['utf-16', json, { 'content-type': 'application/json; charset=utf-16' }, [400, 415]],
        ['latin-9', json, { 'content-type': 'application/json; charset=latin-9' }, 415],
        ['gzip garbage', json, { 'content-encoding': 'gzip' }, 400],
        ['deflate garbage', json, { 'content-encoding': 'deflate' }, 400],
        ['br garbage', json, { 'content-encoding': 'br' }, 400],
        ['unknown encoding', json, { 'content-encoding': 'bogus' }, 415],
        ['two encodings', json, { 'content-encoding': 'identity, gzip' }, 415],
        ['gzip of NUL', gzipSync(JSON.stringify(withValue(body, ['zz'], 'a\u0000'))), { 'content-encoding': 'gzip' }, route.body ? 400 : undefined],
        ['too large', JSON.stringify({ pad: 'x'.repeat(300_000) }), {}, 413],
        ['invalid UTF-8', Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xff, 0xfe, 0xc0, 0x80]), Buffer.from('"}')]), {}, undefined],
      ];
      if (route.body) {
        cases.push(['an array', '[]', {}, 400], ['unknown field', JSON.stringify({ ...(body as Json), zzUnknown: 1 }), {}, undefined]);
        for (const leaf of leaves(body).slice(0, 12)) {
          for (const wrong of [12345, true, null, {}, [], 'x'.repeat(10_000)]) cases.push([`${leaf.path.join('.')}=${JSON.stringify(wrong).slice(0, 12)}`, JSON.stringify(withValue(body, leaf.path, wrong)), {}, undefined]);
        }
      }
      for (const [label, payload, headers, status] of cases) {
        jobs.push(async () => check(`${route.method} ${route.path} ${label}`, await send(who, route.method, url, payload, headers), status === undefined ? undefined : { status }));
      }
    }
    await inPool(jobs);
    expect(failures).toEqual([]);
  });

  it('when random JSON (with NUL and lone surrogates among its characters) replaces a field or the whole body, then nothing is 5xx and poison is 400', async () => {
    const unit = fc.oneof(fc.constantFrom('\u0000', '\ud800', '\udfff', '\ud83d\ude00'), fc.constantFrom('a', 'Z', '0', ' ', '-', 'é'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }));
    const text = fc.string({ unit, maxLength: 8 });
    const { value: json } = fc.letrec<{ value: unknown }>((tie) => ({
      value: fc.oneof({ depthSize: 'small', maxDepth: 4 }, text, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(tie('value'), { maxLength: 3 }), fc.dictionary(text, tie('value'), { maxKeys: 3 })),
    }));
    const bodies = all.filter((r) => r.body);
    const examples = new Map<Route, unknown>();
    for (const route of bodies) examples.set(route, await exampleBody(route));
    const arbitrary = fc.record({
      route: fc.constantFrom(...bodies),
      where: fc.nat(),
      whole: fc.boolean(),
      value: json,
    });
    await fc.assert(
      fc.asyncProperty(arbitrary, async ({ route, where, whole, value }) => {
        const example = examples.get(route)!;
        const fields = leaves(example);
        const body = whole ? { ...(typeof value === 'object' && value !== null && !Array.isArray(value) ? value : { value }) } : withValue(example, fields[where % fields.length]!.path, value);
        const poisoned = findUnstorable(body).length > 0;
        const res = await send(callerOf(route), route.method, concrete(route), JSON.stringify(body));
        check(`${route.method} ${route.path} random ${JSON.stringify(body).slice(0, 120)}`, res, poisoned ? { status: 400 } : undefined);
      }),
      { seed: 20270301, numRuns: 300 },
    );
    expect(failures).toEqual([]);
  });

  it('when a header holds NUL, then Node refuses the request (400) before the app', async () => {
    const { hostname, port } = new URL(world.mandate.apiUrl!);
    const answer = await new Promise<string>((done, fail) => {
      const socket = connect(Number(port), hostname, () => socket.end(`POST /v1/contracts/ctr-martin-2027/processes HTTP/1.1\r\nHost: x\r\nIdempotency-Key: a\u0000b\r\nContent-Length: 2\r\n\r\n{}`));
      let data = '';
      socket.on('data', (chunk) => (data += chunk.toString('latin1')));
      socket.on('end', () => done(data));
      socket.on('error', fail);
    });
    sent++;
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
  });

  it('then no process started with poison: every process the fuzz created had a clean request and journals normally', async () => {
    const db = world.mandate.database.db;
    const after = await db.selectFrom('processes').select(['id', 'business_key']).where('started_at', '>=', new Date(started)).execute();
    const total = (await db.selectFrom('processes').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n;
    expect(Number(total) - Number(processesBefore)).toBe(after.length);
    expect(after.map((p) => p.id).sort()).toEqual([...new Set(created.map((c) => c.id))].sort());
    for (const { id, body } of created) {
      expect(findUnstorable(JSON.parse(body))).toEqual([]);
      await waitFor(`the journal of ${id}`, async () => ((await world.call('client-op', 'GET', `/v1/processes/${enc(id)}/journal`)).body.entries as unknown[] | undefined)?.length || undefined);
    }
    console.info(`edge fuzz: ${all.length} routes, ${sent} requests in ${((Date.now() - started) / 1000).toFixed(1)} s, ${created.length} processes started by clean random bodies`);
  });
});

