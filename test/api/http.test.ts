// The HTTP surface every route shares: request ids, health, readiness, metrics, log hygiene
// and the problem+json answers for unknown routes, wrong methods, bodies and content types.
import { Writable } from 'node:stream';
import { Client, Connection } from '@temporalio/client';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app';
import { createLogger } from '../../api/observability';
import type { Schema } from '../../db/schema';
import { openTasks } from '../../db/tasks';
import { registerProcess } from '../../db/processes';
import { startTestApi, type TestApi } from '../support/api';
import { silentLog } from '../support/harness';

/** Everything the app logs, as text. */
const logged: string[] = [];
const capture = new Writable({
  write(chunk: Buffer, _encoding, done) {
    logged.push(chunk.toString());
    done();
  },
});

let api: TestApi;
let leaKey: string;

beforeAll(async () => {
  api = await startTestApi({ log: createLogger('trace', capture), name: 'http' });
  leaKey = api.keys.get('u-hr-lea')!;
});

afterAll(async () => {
  await api?.close();
});

async function call(method: string, path: string, init: { key?: string; body?: string; type?: string; headers?: Record<string, string> } = {}) {
  const res = await fetch(api.url + path, {
    method,
    headers: {
      ...(init.key ? { authorization: `Bearer ${init.key}` } : {}),
      ...(init.body !== undefined ? { 'content-type': init.type ?? 'application/json' } : {}),
      ...init.headers,
    },
    body: init.body,
  });
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  return { status: res.status, type, headers: res.headers, text, body: type.includes('json') && text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const onboarding = {
  type: 'employee-onboarding',
  businessKey: 'emp-http-1',
  input: {
    employee: { firstName: 'Zoltan', lastName: 'Quixotebody', email: 'zoltan@martin.example', department: 'R&D', startDate: '2027-02-01' },
    privilegedGroups: [],
    laptop: { model: 'T14', shipTo: 'Lyon' },
  },
};

describe('health, readiness and request ids', () => {
  it('when /healthz is asked, then it answers 200 and echoes a given request id', async () => {
    const res = await call('GET', '/healthz', { headers: { 'x-request-id': 'req-abc.1' } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
    expect(res.headers.get('x-request-id')).toBe('req-abc.1');
  });

  it('when a request has no usable id, then one is generated', async () => {
    const res = await call('GET', '/healthz', { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('when the database and Temporal answer, then /readyz is 200', async () => {
    const res = await call('GET', '/readyz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ready', checks: { database: 'ok', temporal: 'ok' } });
  });

  it('when the database and Temporal are unreachable, then /readyz is a 503 problem naming both', async () => {
    const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/none', connectionTimeoutMillis: 500 }) }) });
    // No retry interceptor: a retry timer must not outlive the connection closed below.
    const connection = Connection.lazy({ address: '127.0.0.1:1', interceptors: [] });
    const app = createApp({ db, log: silentLog, temporal: { client: new Client({ connection }), taskQueue: 'none', close: () => connection.close() } });
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    try {
      const { port } = server.address() as { port: number };
      const started = Date.now();
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      const body = (await res.json()) as { type: string; down: string[]; detail: string };
      expect(body.type).toBe('/problems/not-ready');
      expect(body.down).toEqual(['database', 'temporal']);
      expect(body.detail).toMatch(/database, temporal are down/);
    } finally {
      server.close();
      server.closeAllConnections();
      await db.destroy();
      await connection.close().catch(() => undefined);
    }
  });
});

describe('metrics', () => {
  it('when requests were served, then /metrics has durations by route template (no ids), open tasks by party and default metrics', async () => {
    const version = 1;
    await registerProcess(api.database.db, { id: 'p-metrics', contractId: 'ctr-martin-2027', contractVersion: version, processType: 'employee-onboarding', businessKey: 'metrics', requestedBy: 'u-hr-lea', requestedByParty: 'martin' });
    await openTasks(api.database.db, [{ id: 'task-metrics-1', processId: 'p-metrics', stepKey: 'x', kind: 'execute', partyId: 'nuvola', title: 't', payload: {} }]);
    await call('GET', '/v1/tasks/task-id-4711', { key: leaKey });
    const res = await call('GET', '/metrics');
    expect(res.status).toBe(200);
    expect(res.type).toContain('text/plain');
    expect(res.text).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/v1\/tasks\/\{taskId\}",status="404"\} 1/);
    expect(res.text).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/healthz",status="200"\}/);
    expect(res.text).not.toContain('task-id-4711');
    expect(res.text).toMatch(/mandate_tasks_open\{party="nuvola"\} 1/);
    expect(res.text).toContain('process_cpu_seconds_total');
    expect(res.text).toContain('nodejs_eventloop_lag_seconds');
  });

  it('when a process is created through the API, then mandate_processes_started_total counts it once', async () => {
    const first = await call('POST', '/v1/contracts/ctr-martin-2027/processes', { key: leaKey, body: JSON.stringify({ ...onboarding, businessKey: 'emp-metrics' }) });
    expect(first.status).toBe(201);
    const again = await call('POST', '/v1/contracts/ctr-martin-2027/processes', { key: leaKey, body: JSON.stringify({ ...onboarding, businessKey: 'emp-metrics' }) });
    expect(again.status).toBe(200);
    const res = await call('GET', '/metrics');
    expect(res.text).toMatch(/mandate_processes_started_total\{process_type="employee-onboarding"\} 1\n/);
    await api.temporal.client.workflow.getHandle(first.body.id as string).terminate('test over');
  });
});

describe('logs', () => {
  it('when requests carry a key and a body, then neither reaches the logs', async () => {
    logged.length = 0;
    const started = await call('POST', '/v1/contracts/ctr-martin-2027/processes', { key: leaKey, body: JSON.stringify(onboarding) });
    expect(started.status).toBe(201);
    await call('POST', '/v1/tasks/nope/complete', { key: leaKey, body: '{"comment": "Quixotebody-malformed' });
    await call('POST', '/v1/tasks/nope/complete', { key: leaKey, body: JSON.stringify({ comment: 'Quixotebody-comment' }) });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const text = logged.join('');
    expect(text).toContain('"msg":"request"');
    expect(text).toContain('"route":"/v1/contracts/{contractId}/processes"');
    expect(text).not.toContain(leaKey);
    expect(text).not.toContain(leaKey.slice(-12));
    expect(text).not.toContain('Quixotebody');
    expect(text).not.toContain('zoltan@martin.example');
    expect(text.toLowerCase()).not.toContain('bearer');
    await api.temporal.client.workflow.getHandle(started.body.id as string).terminate('test over');
  });

  it('when code logs an object holding a key, a secret or a body, then the logger redacts them', () => {
    const lines: string[] = [];
    const log = createLogger('info', new Writable({ write: (c: Buffer, _e, done) => { lines.push(c.toString()); done(); } }));
    log.info({ headers: { authorization: 'Bearer mk_leak1' }, key: 'mk_leak2', target: { secret: 'leak3' }, body: { name: 'leak4' } }, 'careless');
    expect(lines.join('')).toContain('careless');
    expect(lines.join('')).not.toMatch(/leak\d/);
  });
});

describe('problems for what is not a route', () => {
  it('when a path is unknown, then the answer is a 404 problem', async () => {
    const res = await call('GET', '/nowhere');
    expect(res.status).toBe(404);
    expect(res.type).toContain('application/problem+json');
    expect(res.body).toMatchObject({ type: '/problems/no-route', status: 404 });
  });

  it('when a known v1 path is asked with another method, then 405 with Allow, before any key is checked', async () => {
    const res = await call('DELETE', '/v1/tasks');
    expect(res.status).toBe(405);
    expect(res.type).toContain('application/problem+json');
    expect(res.headers.get('allow')).toBe('GET, HEAD');
    expect(res.body).toMatchObject({ type: '/problems/method-not-allowed', allow: ['GET', 'HEAD'] });
    const withId = await call('PUT', '/v1/tasks/t-1/complete', { key: leaKey, body: '{}' });
    expect(withId.status).toBe(405);
    expect(withId.headers.get('allow')).toBe('POST');
  });

  it('when an operational path is posted to, then 405; OPTIONS answers 204 with Allow', async () => {
    const res = await call('POST', '/healthz');
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
    const options = await call('OPTIONS', '/v1/tasks/t-1');
    expect(options.status).toBe(204);
    expect(options.headers.get('allow')).toBe('GET, HEAD');
  });

  it('when the body is over the size limit, then 413 problem', async () => {
    const res = await call('POST', '/v1/tasks/t-1/complete', { key: leaKey, body: JSON.stringify({ comment: 'x'.repeat(300_000) }) });
    expect(res.status).toBe(413);
    expect(res.type).toContain('application/problem+json');
    expect(res.body).toMatchObject({ type: '/problems/too-large' });
  });

  it('when the body is not valid JSON, then 400 problem with path body', async () => {
    const res = await call('POST', '/v1/tasks/t-1/complete', { key: leaKey, body: '{"decision": ' });
    expect(res.status).toBe(400);
    expect(res.type).toContain('application/problem+json');
    expect(res.body).toMatchObject({ type: '/problems/validation', errors: [{ path: 'body' }] });
  });

  it('when a body route gets another content type, then 415 problem', async () => {
    const res = await call('POST', '/v1/tasks/t-1/complete', { key: leaKey, body: 'decision=approve', type: 'application/x-www-form-urlencoded' });
    expect(res.status).toBe(415);
    expect(res.type).toContain('application/problem+json');
    expect(res.body).toMatchObject({ type: '/problems/unsupported-media-type', status: 415 });
  });
});
