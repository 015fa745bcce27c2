// Every route of the OpenAPI document, called by principals who must not see the example
// contract's resources: no key, a revoked key, another client's operator. Nothing leaks:
// 401 without a valid key, 404 (never 403, 409, 422 or 200 with data) for the other client.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueApiKey } from '../../db/api-keys';
import { upsertUser } from '../../db/parties';
import { waitFor } from '../support/harness';
import { startApiWorld, onboarding, openTaskOf, enc, type ApiWorld, type Json } from './support';

let world: ApiWorld;
let processId: string;
let taskId: string;

beforeAll(async () => {
  world = await startApiWorld(import.meta.url);
  const started = await world.call('client-op', 'POST', '/v1/contracts/ctr-martin-2027/processes', onboarding('emp-matrix'));
  processId = started.body.id as string;
  taskId = (await openTaskOf(world, 'client-approver', processId, 'iam.grant-privileged')).id as string;
}, 120_000);

afterAll(async () => {
  await world?.stop();
});

interface Route {
  method: string;
  path: string;
  secured: boolean;
}

async function routes(): Promise<Route[]> {
  const doc = (await world.call(undefined, 'GET', '/openapi.json')).body as { paths: Record<string, Record<string, { security?: unknown[] }>>; security?: unknown[] };
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({ method: method.toUpperCase(), path, secured: (op.security ?? doc.security ?? []).length > 0 })),
  );
}

/** The example contract's resources, by path parameter name. */
function concrete(path: string): string {
  const values: Record<string, string> = {
    contractId: 'ctr-martin-2027',
    processId: enc(processId),
    taskId,
    partyId: 'martin',
    version: '1',
    name: 'nightly-backup',
    keyId: 'key-unknown',
    webhookId: 'wh-unknown',
    jobId: 'job-unknown',
    key: 'restart-service',
  };
  return path.replace(/\{(\w+)\}/g, (_m, name: string) => values[name] ?? 'x');
}

describe('authorization matrix', () => {
  it('when no key or a revoked key is given, then every secured route answers 401 problem+json', async () => {
    const all = (await routes()).filter((r) => r.secured);
    expect(all.length).toBeGreaterThan(20);
    for (const route of all) {
      for (const who of [undefined, 'revoked']) {
        const res = await world.call(who, route.method, concrete(route.path), route.method === 'GET' || route.method === 'DELETE' ? undefined : {});
        expect(res.status, `${who ?? 'no key'} ${route.method} ${route.path}`).toBe(401);
        expect(res.type).toContain('application/problem+json');
      }
    }
  });

  it("when another client calls a route about this contract's resources, then it is 404 (or 400 for a body it would refuse anyway)", async () => {
    const scoped = (await routes()).filter((r) => r.secured && /\{(contractId|processId|taskId|partyId|jobId)\}/.test(r.path));
    expect(scoped.length).toBeGreaterThan(10);
    for (const route of scoped) {
      const res = await world.call('other-client', route.method, concrete(route.path), route.method === 'GET' || route.method === 'DELETE' ? undefined : {});
      const label = `${route.method} ${route.path} → ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`;
      // A user key on an agent-only route is refused for its kind, whoever owns the job.
      const agentOnly = route.path.startsWith('/v1/agent/');
      expect(agentOnly ? [400, 403, 404] : [400, 404], label).toContain(res.status);
      // Only the problem itself comes back: nothing about the contract, its parties or its data.
      expect(res.type, label).toContain('application/problem+json');
      expect(Object.keys(res.body).filter((k) => !['type', 'title', 'status', 'detail', 'instance', 'errors'].includes(k)), label).toEqual([]);
      expect(JSON.stringify(res.body), label).not.toMatch(/Boulangeries|nuvola|u-hr-lea|pc-logistique/);
    }
  });

  it("when another client lists things, then none of this contract's contracts, processes or tasks appear", async () => {
    for (const url of ['/v1/contracts', '/v1/processes', '/v1/tasks', '/v1/parties', `/v1/processes?contractId=ctr-martin-2027`, '/v1/tasks?status=done']) {
      const res = await world.call('other-client', 'GET', url);
      expect(res.status, url).toBe(200);
      const text = JSON.stringify(res.body as Json);
      expect(text, url).not.toContain('ctr-martin-2027');
      expect(text, url).not.toContain(processId);
      expect(text, url).not.toContain(taskId);
    }
  });

  it("when the client's vendor or the provider reads the client's task, then it is 404", async () => {
    for (const who of ['vendor', 'provider-op']) {
      const res = await world.call(who, 'GET', `/v1/tasks/${taskId}`);
      expect(res.status, who).toBe(404);
    }
  });
});

// Keys are authenticated from memory while key changes are heard: a revocation made anywhere
// (another API node, psql) must count at once here, also while the listener is down.
describe('a key revoked behind this node', () => {
  const db = () => world.mandate.database.db;
  const freshKey = async () => {
    const issued = await issueApiKey(db(), { partyId: 'martin', userId: 'u-martin-viewer', roles: ['viewer'] });
    world.keys.set('fresh', issued.key);
    expect((await world.call('fresh', 'GET', '/v1/contracts/ctr-martin-2027')).status).toBe(200);
    expect((await world.call('fresh', 'GET', '/v1/contracts/ctr-martin-2027')).status).toBe(200);
    return issued;
  };
  const listening = async () =>
    (await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where datname = current_database() and query = 'LISTEN mandate_api_keys'`.execute(db())).rows[0]!.n;

  it('when an admin revokes the key through this node, then the very next request with it is 401', async () => {
    await upsertUser(db(), { id: 'u-martin-admin', partyId: 'martin', roles: ['admin'] });
    world.keys.set('client-admin', (await issueApiKey(db(), { partyId: 'martin', userId: 'u-martin-admin', roles: ['admin'] })).key);
    const issued = await freshKey();
    expect((await world.call('client-admin', 'DELETE', `/v1/parties/martin/keys/${issued.id}`)).status).toBe(204);
    expect((await world.call('fresh', 'GET', '/v1/contracts/ctr-martin-2027')).status).toBe(401);
  });

  it('when the key is revoked in the database, then the next requests are 401 within moments', async () => {
    const issued = await freshKey();
    await sql`update api_keys set revoked_at = now() where id = ${issued.id}`.execute(db());
    await waitFor('the revocation to count', async () => (await world.call('fresh', 'GET', '/v1/contracts/ctr-martin-2027')).status === 401, 2000);
  });

  it('when the listener lost its connection, then a revocation counts at the very next request, and caching resumes once it is back', async () => {
    await waitFor('the listener to be connected', async () => (await listening()) === 1);
    const issued = await freshKey();
    await sql`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and query = 'LISTEN mandate_api_keys'`.execute(db());
    await waitFor('the listener to be gone', async () => (await listening()) === 0);
    await new Promise((resolve) => setTimeout(resolve, 200)); // The client notices the loss.
    await sql`update api_keys set revoked_at = now() where id = ${issued.id}`.execute(db());
    expect((await world.call('fresh', 'GET', '/v1/contracts/ctr-martin-2027')).status).toBe(401);
    await waitFor('the listener to be back', async () => (await listening()) === 1, 10_000);
    const again = await freshKey();
    await sql`update api_keys set revoked_at = now() where id = ${again.id}`.execute(db());
    await waitFor('the revocation to count', async () => (await world.call('fresh', 'GET', '/v1/contracts/ctr-martin-2027')).status === 401, 2000);
  });
});
