// Issue 12, points 4 to 6, tried as the findings were: a demoted user's key, an agent key on
// every non-agent route, a foreign or reused Idempotency-Key on a start, the provider's admin
// administering a client that has its own admin, and third parties reading processes they have
// no part in (the client's vendor listing every process, the raw workflow state, the provider's
// subcontractor reading other hosts' backup entries). Real API, Temporal and PostgreSQL.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueApiKey } from '../../db/api-keys';
import { upsertUser } from '../../db/parties';
import { waitFor } from '../support/harness';
import { enc, onboarding, openTaskOf, startApiWorld, type ApiWorld, type Json } from './support';

let world: ApiWorld;
const call: ApiWorld['call'] = (...args) => world.call(...args);
const db = () => world.mandate.database.db;

beforeAll(async () => {
  world = await startApiWorld(import.meta.url);
  await upsertUser(db(), { id: 'u-nuvola-admin', partyId: 'nuvola', roles: ['admin'] });
  world.keys.set('nuvola-admin', (await issueApiKey(db(), { partyId: 'nuvola', userId: 'u-nuvola-admin', roles: ['admin'] })).key);
  const invited = await call('nuvola-admin', 'POST', '/v1/parties/martin/first-admin', { id: 'u-martin-admin', name: 'DSI admin' });
  if (invited.status !== 201) throw new Error(`first admin: ${JSON.stringify(invited.body)}`);
  world.keys.set('martin-admin', invited.body.key.key as string);
  world.keys.set('nuvola-agent', (await issueApiKey(db(), { partyId: 'nuvola', agentId: 'ag-nuvola-soc', roles: ['agent'] })).key);
}, 180_000);

afterAll(async () => {
  await world?.stop();
});

const start = (who: string, key: string, headers: Record<string, string> = {}, opts: Parameters<typeof onboarding>[1] = {}) =>
  call(who, 'POST', '/v1/contracts/ctr-martin-2027/processes', onboarding(key, opts), headers);

describe("a demoted user's key", () => {
  it('when his own admin takes a role away, then his key loses it at the next request, and a key left with no role authenticates no one', async () => {
    expect((await call('martin-admin', 'POST', '/v1/parties/martin/users', { id: 'u-ops', roles: ['operator', 'viewer'] })).status).toBe(201);
    const both = await call('martin-admin', 'POST', '/v1/parties/martin/keys', { userId: 'u-ops', roles: ['operator', 'viewer'] });
    const operatorOnly = await call('martin-admin', 'POST', '/v1/parties/martin/keys', { userId: 'u-ops', roles: ['operator'] });
    world.keys.set('ops-both', both.body.key as string);
    world.keys.set('ops-operator', operatorOnly.body.key as string);
    // Both keys are used (and cached) while he is an operator.
    expect((await start('ops-both', 'demote-1')).status).toBe(201);
    expect((await start('ops-operator', 'demote-2')).status).toBe(201);

    const demoted = await call('martin-admin', 'PATCH', '/v1/parties/martin/users/u-ops', { roles: ['viewer'] });
    expect(demoted.status).toBe(200);
    expect(demoted.body.roles).toEqual(['viewer']);
    const refused = await start('ops-both', 'demote-3');
    expect(refused.status).toBe(403);
    expect(refused.type).toContain('application/problem+json');
    expect((await call('ops-both', 'GET', '/v1/contracts/ctr-martin-2027')).status).toBe(200);
    expect((await call('ops-operator', 'GET', '/v1/contracts/ctr-martin-2027')).status).toBe(401);
    // Promoted again, the keys act with what they were issued with, no more.
    expect((await call('martin-admin', 'PATCH', '/v1/parties/martin/users/u-ops', { roles: ['operator', 'viewer', 'approver'] })).status).toBe(200);
    expect((await start('ops-operator', 'demote-4')).status).toBe(201);
    const keys = (await call('martin-admin', 'GET', '/v1/parties/martin/keys?limit=200')).body.items as Json[];
    expect(keys.find((k) => k.id === operatorOnly.body.id)?.roles).toEqual(['operator']);
  });

  it('when the roles are changed in the database behind the API, then the cached key follows within moments', async () => {
    expect((await call('martin-admin', 'POST', '/v1/parties/martin/users', { id: 'u-ops-sql', roles: ['operator', 'viewer'] })).status).toBe(201);
    world.keys.set('ops-sql', (await call('martin-admin', 'POST', '/v1/parties/martin/keys', { userId: 'u-ops-sql', roles: ['operator', 'viewer'] })).body.key as string);
    expect((await call('ops-sql', 'GET', '/v1/contracts/ctr-martin-2027')).status).toBe(200);
    expect((await call('ops-sql', 'GET', '/v1/contracts/ctr-martin-2027')).status).toBe(200);
    await sql`update users set roles = '{viewer}' where id = 'u-ops-sql'`.execute(db());
    await waitFor('the demotion to count', async () => (await start('ops-sql', 'demote-sql')).status === 403, 3000);
    await sql`update users set roles = '{}' where id = 'u-ops-sql'`.execute(db());
    await waitFor('the key to authenticate no one', async () => (await call('ops-sql', 'GET', '/v1/contracts/ctr-martin-2027')).status === 401, 3000);
  });
});

describe('an agent key', () => {
  it('when it calls every route that is not an agent route, then each is 403, whatever the body; its own routes still answer', async () => {
    const doc = (await call(undefined, 'GET', '/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
    const routes = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((method) => ({ method: method.toUpperCase(), path })));
    const others = routes.filter((r) => !r.path.startsWith('/v1/agent/') && !r.path.endsWith('/monitoring/alerts') && !['/openapi.json'].includes(r.path));
    expect(others.length).toBeGreaterThan(30);
    const values: Record<string, string> = { contractId: 'ctr-martin-2027', partyId: 'martin', processId: 'x', taskId: 'x', userId: 'u-hr-lea', version: '1', name: 'nightly-backup', key: 'restart-service' };
    for (const who of ['client-agent', 'nuvola-agent']) {
      for (const route of others) {
        const url = route.path.replace(/\{(\w+)\}/g, (_m, name: string) => values[name] ?? 'x');
        const res = await call(who, route.method, url, route.method === 'GET' || route.method === 'DELETE' ? undefined : { anything: true });
        expect(res.status, `${who} ${route.method} ${route.path}`).toBe(403);
        expect(res.body.detail, `${who} ${route.method} ${route.path}`).toMatch(/agent key reaches only the agent routes/);
      }
    }
    // What an agent did read before: tasks with incident titles, all processes, the contract with pricing.
    for (const url of ['/v1/tasks', '/v1/processes', '/v1/contracts/ctr-martin-2027/versions/1']) expect((await call('client-agent', 'GET', url)).status, url).toBe(403);
    expect([200, 204]).toContain((await call('client-agent', 'GET', '/v1/agent/jobs?wait=0')).status);
    expect((await call('client-agent', 'POST', '/v1/agent/jobs/job-unknown/heartbeat', {})).status).toBe(404);
  });
});

describe('Idempotency-Key on a start', () => {
  it("when another principal, even of another party, sends the same key, then it starts its own process, never gets the first caller's", async () => {
    const headers = { 'idempotency-key': 'hire-2027-001' };
    const body = { type: 'employee-onboarding', input: onboarding('idem-a').input };
    const first = await call('client-op', 'POST', '/v1/contracts/ctr-martin-2027/processes', body, headers);
    expect(first.status).toBe(201);
    const retried = await call('client-op', 'POST', '/v1/contracts/ctr-martin-2027/processes', body, headers);
    expect(retried.status).toBe(200);
    expect(retried.body.id).toBe(first.body.id);
    const provider = await call('provider-op', 'POST', '/v1/contracts/ctr-martin-2027/processes', { type: 'employee-onboarding', input: onboarding('idem-b').input }, headers);
    expect(provider.status).toBe(201);
    expect(provider.body.id).not.toBe(first.body.id);
    expect(provider.body.requestedBy).toEqual({ userId: 'u-marc', partyId: 'nuvola' });
    const sameBodyOtherCaller = await call('client-approver-2', 'POST', '/v1/contracts/ctr-martin-2027/processes', body, headers);
    // Another client user may not start processes at all: refused, never handed the first process.
    expect(sameBodyOtherCaller.status).toBe(403);
    expect(JSON.stringify(sameBodyOtherCaller.body)).not.toContain(first.body.id as string);
  });

  it('when the same caller reuses a key with another body, then 422 and nothing starts; a corrected retry after a refusal is not held against it', async () => {
    const headers = { 'idempotency-key': 'hire-2027-002' };
    const first = await call('client-op', 'POST', '/v1/contracts/ctr-martin-2027/processes', { type: 'employee-onboarding', input: onboarding('idem-c').input }, headers);
    expect(first.status).toBe(201);
    const count = async () => (await sql<{ n: number }>`select count(*)::int as n from processes`.execute(db())).rows[0]!.n;
    const before = await count();
    const other = await call('client-op', 'POST', '/v1/contracts/ctr-martin-2027/processes', { type: 'employee-onboarding', input: onboarding('idem-d').input }, headers);
    expect(other.status).toBe(422);
    expect(other.type).toContain('application/problem+json');
    expect(other.body.type).toBe('/problems/idempotency-key-reused');
    const withBusinessKey = await call('client-op', 'POST', '/v1/contracts/ctr-martin-2027/processes', onboarding('idem-e'), headers);
    expect(withBusinessKey.status).toBe(422);
    expect(await count()).toBe(before);

    // A start refused for its body (400) leaves the key free for the corrected request.
    const retryHeaders = { 'idempotency-key': 'hire-2027-003' };
    const bad = await call('client-op', 'POST', '/v1/contracts/ctr-martin-2027/processes', { type: 'employee-onboarding', input: { employee: {} } }, retryHeaders);
    expect(bad.status).toBe(400);
    expect((await call('client-op', 'POST', '/v1/contracts/ctr-martin-2027/processes', { type: 'employee-onboarding', input: onboarding('idem-f').input }, retryHeaders)).status).toBe(201);
  });
});

describe("the provider's admin and a client's people", () => {
  it('when the client has its admin, then the provider admin neither creates, changes, lists nor keys its users, agents or webhooks, nor invites another admin', async () => {
    const attempts: [string, string, unknown?][] = [
      ['POST', '/v1/parties/martin/users', { id: 'u-planted', roles: ['approver'] }],
      ['GET', '/v1/parties/martin/users'],
      ['PATCH', '/v1/parties/martin/users/u-dsi-paul', { roles: ['approver', 'admin'] }],
      ['POST', '/v1/parties/martin/agents', { id: 'ag-planted' }],
      ['GET', '/v1/parties/martin/agents'],
      ['POST', '/v1/parties/martin/keys', { userId: 'u-dsi-paul', roles: ['approver'] }],
      ['GET', '/v1/parties/martin/keys'],
      ['POST', '/v1/parties/martin/webhooks', { url: 'https://hooks.nuvola.example/spy', events: ['*'] }],
      ['GET', '/v1/parties/martin/webhooks'],
    ];
    for (const [method, url, body] of attempts) {
      const res = await call('nuvola-admin', method, url, body);
      expect(res.status, `${method} ${url}`).toBe(403);
      expect(res.body.detail, `${method} ${url}`).toMatch(/each party administers its own people/);
    }
    const second = await call('nuvola-admin', 'POST', '/v1/parties/martin/first-admin', { id: 'u-planted-admin' });
    expect(second.status).toBe(409);
    expect((await sql<{ id: string }>`select id from users where id in ('u-planted', 'u-planted-admin')`.execute(db())).rows).toEqual([]);
    expect((await sql<{ n: number }>`select count(*)::int as n from agents where id = 'ag-planted'`.execute(db())).rows[0]!.n).toBe(0);
    // Its own party stays its own to administer.
    expect((await call('nuvola-admin', 'POST', '/v1/parties/nuvola/users', { id: 'u-nuvola-new', roles: ['operator'] })).status).toBe(201);
  });

  it('when the provider creates a party, then it invites its first admin once; that admin administers it and can never leave it without an admin', async () => {
    expect((await call('nuvola-admin', 'POST', '/v1/parties', { id: 'acme', kind: 'client', name: 'Acme', timezone: 'Europe/Paris' })).status).toBe(201);
    expect((await call('martin-admin', 'POST', '/v1/parties/acme/first-admin', { id: 'u-acme-intruder' })).status).toBe(404);
    // The provider's operator is no admin: a party it has no contract with does not exist for it.
    expect((await call('provider-op', 'POST', '/v1/parties/acme/first-admin', { id: 'u-acme-intruder' })).status).toBe(404);
    const invited = await call('nuvola-admin', 'POST', '/v1/parties/acme/first-admin', { id: 'u-acme-admin', name: 'Acme IT' });
    expect(invited.status).toBe(201);
    expect(invited.body.user).toMatchObject({ id: 'u-acme-admin', partyId: 'acme', roles: ['admin'] });
    expect(invited.body.key).toMatchObject({ userId: 'u-acme-admin', roles: ['admin'] });
    world.keys.set('acme-admin', invited.body.key.key as string);
    expect((await call('nuvola-admin', 'POST', '/v1/parties/acme/first-admin', { id: 'u-acme-second' })).status).toBe(409);
    expect((await call('nuvola-admin', 'POST', '/v1/parties/acme/users', { id: 'u-acme-planted', roles: ['approver'] })).status).toBe(403);

    expect((await call('acme-admin', 'POST', '/v1/parties/acme/users', { id: 'u-acme-approver', roles: ['approver'] })).status).toBe(201);
    const own = await call('acme-admin', 'POST', '/v1/parties/acme/keys', { userId: 'u-acme-admin', roles: ['admin'] });
    expect(own.status).toBe(201);
    // The key the provider handed over is revoked by its holder.
    expect((await call('acme-admin', 'DELETE', `/v1/parties/acme/keys/${invited.body.key.id as string}`)).status).toBe(204);
    world.keys.set('acme-admin', own.body.key as string);
    const lastAdmin = await call('acme-admin', 'PATCH', '/v1/parties/acme/users/u-acme-admin', { roles: ['operator'] });
    expect(lastAdmin.status).toBe(409);
    expect((await call('acme-admin', 'GET', '/v1/parties/acme/users')).status).toBe(200);
    const bad = await call('acme-admin', 'PATCH', '/v1/parties/acme/users/u-acme-approver', { roles: ['agent'] });
    expect(bad.status).toBe(400);
    expect((bad.body.errors as { path: string }[]).map((e) => e.path)).toEqual(['body.roles.0']);
    expect((await call('acme-admin', 'PATCH', '/v1/parties/acme/users/u-nobody', { team: 'x' })).status).toBe(404);
  });
});

describe('third parties', () => {
  it("when the client's vendor lists and reads processes, then it sees only those it has a part in, its own steps, and never the workflow's state", async () => {
    const waiting = (await start('client-op', 'vendor-waiting')).body.id as string;
    const shipping = (await start('client-op', 'vendor-shipping', {}, { privileged: false })).body.id as string;
    const task = await openTaskOf(world, 'vendor', shipping, 'equipment.ship-laptop');
    await openTaskOf(world, 'client-approver', waiting, 'iam.grant-privileged');

    const listed = ((await call('vendor', 'GET', '/v1/processes?limit=200')).body.items as Json[]).map((p) => p.id as string);
    expect(listed).toContain(shipping);
    expect(listed).not.toContain(waiting);
    expect((await call('vendor', 'GET', `/v1/processes/${enc(waiting)}`)).status).toBe(404);
    expect((await call('vendor', 'GET', `/v1/processes/${enc(waiting)}/journal`)).status).toBe(404);
    expect(((await call('client-viewer', 'GET', '/v1/processes?limit=200')).body.items as Json[]).map((p) => p.id)).toEqual(expect.arrayContaining([waiting, shipping]));

    const detail = await call('vendor', 'GET', `/v1/processes/${enc(shipping)}`);
    expect(detail.status).toBe(200);
    expect(detail.body).not.toHaveProperty('state');
    expect(detail.body.requestedBy).toBeNull();
    expect(detail.body.sla).toBeNull();
    expect(detail.body.currentStepDetail).toMatchObject({ stepKey: 'equipment.ship-laptop', myOpenTaskIds: [task.id] });
    const entries = detail.body.journal as Json[];
    expect(entries.length).toBeGreaterThan(0);
    expect(entries.every((e) => e.stepKey === 'equipment.ship-laptop')).toBe(true);
    expect(entries.map((e) => e.event)).not.toContain('process.started');
    // The employee's personal data of the start and the provider's account creation are not its business.
    expect(JSON.stringify(detail.body)).not.toMatch(/iam\.create-accounts|hr\.request-account|vendor-shipping@martin\.example/);
    const journal = await call('vendor', 'GET', `/v1/processes/${enc(shipping)}/journal`);
    expect(journal.body.entries).toEqual(entries);

    // The provider and the client get the chosen fields too, never the raw state.
    const client = await call('client-op', 'GET', `/v1/processes/${enc(waiting)}`);
    expect(client.body).not.toHaveProperty('state');
    expect(client.body.requestedBy).toEqual({ userId: 'u-hr-lea', partyId: 'martin' });
    expect(client.body.currentStepDetail).toMatchObject({ stepKey: 'iam.grant-privileged' });
    expect((client.body.journal as Json[]).map((e) => e.event)).toContain('process.started');
  });

  it("when the provider's subcontractor reads a backup of its host and the provider's, then it sees the entries about its own asset only", async () => {
    const started = await call('provider-op', 'POST', '/v1/contracts/ctr-martin-2027/processes', { type: 'backup', businessKey: 'backup-hosts', input: { assets: ['srv-erp-01', 'srv-file-01'] } });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    const id = started.body.id as string;
    const all = await waitFor('both hosts to be asked for their backup', async () => {
      const res = await call('provider-op', 'GET', `/v1/processes/${enc(id)}/journal`);
      const assets = (res.body.entries as Json[]).filter((e) => e.event === 'step.started' && e.stepKey === 'backup.run').map((e) => e.data.asset as string);
      return assets.includes('srv-erp-01') && assets.includes('srv-file-01') ? (res.body.entries as Json[]) : undefined;
    }, 30_000);
    expect(all.length).toBeGreaterThan(2);

    expect(((await call('subcontractor', 'GET', '/v1/processes?limit=200')).body.items as Json[]).map((p) => p.id)).toContain(id);
    const seen = (await call('subcontractor', 'GET', `/v1/processes/${enc(id)}/journal`)).body.entries as Json[];
    expect(seen.filter((e) => e.event === 'step.started').map((e) => e.data.asset)).toEqual(['srv-erp-01']);
    expect(JSON.stringify(seen)).not.toContain('srv-file-01');
    expect(seen.map((e) => e.event)).not.toContain('backup.planned');
    // The client's vendor hosts nothing here: the backup is not its business.
    expect((await call('vendor', 'GET', `/v1/processes/${enc(id)}`)).status).toBe(404);
  });
});
