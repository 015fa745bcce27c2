// Every route of the OpenAPI document, called by every kind of principal: the provider's
// admin, operator and approver; the client's admin, operator, approver and viewer; the client's
// vendor; the provider's subcontractor; an agent of the client and one of the provider; no key;
// a revoked key; a demoted user's key. Each cell is what the roles allow: 401 without a valid
// key, 403 for an agent key outside the agent routes, 403 or 404 for a refusal (404 when the
// caller may not even know the thing exists), and no refusal for the principals allowed. Then the
// principals who must not see the example contract's resources: another client gets 404.
import { readFile } from 'node:fs/promises';
import { sql } from 'kysely';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueApiKey } from '../../db/api-keys';
import { upsertUser } from '../../db/parties';
import { waitFor } from '../support/harness';
import { startApiWorld, onboarding, openTaskOf, enc, exampleDocument, type ApiWorld, type Json } from './support';

let world: ApiWorld;
let processId: string;
let taskId: string;
/** Another process of each kind the matrix changes: cancelled, approved. */
let cancelId: string;
let approveTaskId: string;
let keyToRevoke: string;
let webhookToDelete: string;

const P_ADMIN = 'provider-admin-user';
const P_OP = 'provider-op';
const P_APPR = 'provider-approver';
const C_ADMIN = 'client-admin';
const C_OP = 'client-op';
const C_APPR = 'client-approver';
const C_VIEW = 'client-viewer';
const VENDOR = 'vendor';
const SUB = 'subcontractor';
const AGENT = 'client-agent';
const P_AGENT = 'provider-agent';
const NONE = 'no key';
const REVOKED = 'revoked';
const DEMOTED = 'demoted';
const PRINCIPALS = [P_ADMIN, P_OP, P_APPR, C_ADMIN, C_OP, C_APPR, C_VIEW, VENDOR, SUB, AGENT, P_AGENT, NONE, REVOKED, DEMOTED] as const;
const PEOPLE = [P_ADMIN, P_OP, P_APPR, C_ADMIN, C_OP, C_APPR, C_VIEW, VENDOR, SUB, DEMOTED];
const PROVIDER_WRITERS = [P_ADMIN, P_OP];
const OPERATORS = [P_ADMIN, P_OP, C_ADMIN, C_OP];
const PRINCIPAL_PARTIES = [P_ADMIN, P_OP, P_APPR, C_ADMIN, C_OP, C_APPR, C_VIEW, DEMOTED];
const CLIENT_PEOPLE = [C_ADMIN, C_OP, C_APPR, C_VIEW, DEMOTED];

beforeAll(async () => {
  world = await startApiWorld(import.meta.url);
  const db = world.mandate.database.db;
  const exampleKey = (userId: string) => world.mandate.exampleKeys.find((k) => k.userId === userId)!.key;
  // The provider's admin is a person of the provider; the client's first admin is invited by it.
  await upsertUser(db, { id: 'u-nuvola-admin', partyId: 'nuvola', roles: ['admin'] });
  world.keys.set(P_ADMIN, (await issueApiKey(db, { partyId: 'nuvola', userId: 'u-nuvola-admin', roles: ['admin'] })).key);
  world.keys.set(P_APPR, exampleKey('u-ines'));
  world.keys.set(P_AGENT, (await issueApiKey(db, { partyId: 'nuvola', agentId: 'ag-nuvola-soc', roles: ['agent'] })).key);
  const invited = await world.call(P_ADMIN, 'POST', '/v1/parties/martin/first-admin', { id: 'u-martin-admin', name: 'DSI admin' });
  if (invited.status !== 201) throw new Error(`first admin: ${JSON.stringify(invited.body)}`);
  world.keys.set(C_ADMIN, invited.body.key.key as string);
  // A user who held operator and approver, demoted to viewer by his own admin: his key acts as a viewer's.
  expect((await world.call(C_ADMIN, 'POST', '/v1/parties/martin/users', { id: 'u-demoted', roles: ['operator', 'approver', 'viewer'] })).status).toBe(201);
  const demotedKey = await world.call(C_ADMIN, 'POST', '/v1/parties/martin/keys', { userId: 'u-demoted', roles: ['operator', 'approver', 'viewer'] });
  world.keys.set(DEMOTED, demotedKey.body.key as string);
  expect((await world.call(C_ADMIN, 'PATCH', '/v1/parties/martin/users/u-demoted', { roles: ['viewer'] })).status).toBe(200);

  const document = await exampleDocument();
  const created = await world.call(P_OP, 'POST', '/v1/contracts', { document: { ...document, id: 'ctr-matrix' } });
  if (created.status !== 201) throw new Error(`ctr-matrix: ${JSON.stringify(created.body)}`);

  const start = async (key: string) => (await world.call(C_OP, 'POST', '/v1/contracts/ctr-martin-2027/processes', onboarding(key))).body.id as string;
  processId = await start('emp-matrix');
  cancelId = await start('emp-matrix-cancel');
  const approveId = await start('emp-matrix-approve');
  taskId = (await openTaskOf(world, C_APPR, processId, 'iam.grant-privileged')).id as string;
  approveTaskId = (await openTaskOf(world, C_APPR, approveId, 'iam.grant-privileged')).id as string;
  keyToRevoke = (await world.call(C_ADMIN, 'POST', '/v1/parties/martin/keys', { userId: 'u-martin-viewer', roles: ['viewer'] })).body.id as string;
  webhookToDelete = (await world.call(C_ADMIN, 'POST', '/v1/parties/martin/webhooks', { url: 'https://hooks.martin.example/matrix', events: ['step.*'] })).body.id as string;
}, 240_000);

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
    userId: 'u-someone',
    version: '1',
    name: 'nightly-backup',
    keyId: 'key-unknown',
    webhookId: 'wh-unknown',
    jobId: 'job-unknown',
    key: 'restart-service',
  };
  return path.replace(/\{(\w+)\}/g, (_m, name: string) => values[name] ?? 'x');
}

/**
 * One request per route, and who it allows. `allowed` get no refusal (no 401, 403 or 404;
 * `notFound` lets an allowed caller get 404 for a resource that does not exist, `expect` pins
 * a status); everyone else gets 403 or 404, exactly 404 for those in `hidden`.
 */
interface Cell {
  method: string;
  template: string;
  url: string | ((who: string) => string);
  body?: (who: string) => unknown;
  allowed: readonly string[];
  hidden?: readonly string[];
  notFound?: true;
  expect?: Partial<Record<string, number>>;
  /** A refusal the process itself makes (a completion's roles are checked by its validator): this status too. */
  refusedBy?: { status: number; type: string };
}

const slug = (who: string) => who.replace(/[^a-z0-9]+/g, '-');

async function cells(): Promise<Cell[]> {
  const document = await exampleDocument();
  const runbook = parseYaml(await readFile('examples/runbooks/restart-service.yaml', 'utf8')) as Json;
  const third = [VENDOR, SUB];
  return [
    { method: 'POST', template: '/contracts', url: '/v1/contracts', body: (who) => ({ document: { ...document, id: `ctr-mx-${slug(who)}` } }), allowed: PROVIDER_WRITERS },
    { method: 'GET', template: '/contracts', url: '/v1/contracts', allowed: PEOPLE },
    { method: 'GET', template: '/contracts/{contractId}', url: '/v1/contracts/ctr-martin-2027', allowed: PEOPLE },
    { method: 'GET', template: '/contracts/{contractId}/versions/{version}', url: '/v1/contracts/ctr-martin-2027/versions/1', allowed: PEOPLE },
    { method: 'POST', template: '/contracts/{contractId}/versions', url: '/v1/contracts/ctr-matrix/versions', body: () => ({ document: { ...document, id: 'ctr-matrix' } }), allowed: PROVIDER_WRITERS },
    // Notice is given by either party's operators or admins (the draft here: 409, a conflict, not a refusal).
    { method: 'POST', template: '/contracts/{contractId}/terminate', url: '/v1/contracts/ctr-matrix/terminate', body: () => ({ reason: 'matrix' }), allowed: OPERATORS },
    { method: 'GET', template: '/contracts/{contractId}/coverage', url: '/v1/contracts/ctr-martin-2027/coverage', allowed: PEOPLE },
    { method: 'POST', template: '/contracts/{contractId}/processes', url: '/v1/contracts/ctr-martin-2027/processes', body: (who) => onboarding(`mx-${slug(who)}`), allowed: OPERATORS },
    { method: 'GET', template: '/processes', url: '/v1/processes', allowed: PEOPLE },
    // The vendor and the subcontractor have no role in an onboarding waiting on its approval: it does not exist for them.
    { method: 'GET', template: '/processes/{processId}', url: () => `/v1/processes/${enc(processId)}`, allowed: PRINCIPAL_PARTIES, hidden: third },
    { method: 'GET', template: '/processes/{processId}/journal', url: () => `/v1/processes/${enc(processId)}/journal`, allowed: PRINCIPAL_PARTIES, hidden: third },
    { method: 'GET', template: '/processes/{processId}/journal/head', url: () => `/v1/processes/${enc(processId)}/journal/head`, allowed: PRINCIPAL_PARTIES, hidden: third },
    { method: 'POST', template: '/processes/{processId}/cancel', url: () => `/v1/processes/${enc(cancelId)}/cancel`, body: () => ({ reason: 'matrix' }), allowed: OPERATORS, hidden: third },
    { method: 'GET', template: '/tasks', url: '/v1/tasks', allowed: PEOPLE },
    { method: 'GET', template: '/tasks/{taskId}', url: () => `/v1/tasks/${taskId}`, allowed: CLIENT_PEOPLE, hidden: [P_ADMIN, P_OP, P_APPR, ...third] },
    { method: 'POST', template: '/tasks/{taskId}/reassign', url: () => `/v1/tasks/${taskId}/reassign`, body: () => ({ userId: 'u-dsi-anne' }), allowed: [C_ADMIN, C_OP, C_APPR], hidden: [P_ADMIN, P_OP, P_APPR, ...third] },
    // Four-eyes: the client's operator requested it; only the client's approver approves.
    { method: 'POST', template: '/tasks/{taskId}/complete', url: () => `/v1/tasks/${approveTaskId}/complete`, body: () => ({ decision: 'approve' }), allowed: [C_APPR], hidden: [P_ADMIN, P_OP, P_APPR, ...third], refusedBy: { status: 422, type: '/problems/task-rejected' } },
    { method: 'POST', template: '/parties', url: '/v1/parties', body: (who) => ({ id: `mx-${slug(who)}`, kind: 'client', name: 'Matrix', timezone: 'Europe/Paris' }), allowed: [P_ADMIN] },
    { method: 'GET', template: '/parties', url: '/v1/parties', allowed: PEOPLE },
    { method: 'GET', template: '/parties/{partyId}', url: '/v1/parties/martin', allowed: PEOPLE },
    // The client has its admin: the provider invites no other (409), and administers nothing of the client.
    { method: 'POST', template: '/parties/{partyId}/first-admin', url: '/v1/parties/martin/first-admin', body: (who) => ({ id: `u-mx-admin-${slug(who)}` }), allowed: [P_ADMIN], expect: { [P_ADMIN]: 409 } },
    { method: 'PATCH', template: '/parties/{partyId}/users/{userId}', url: '/v1/parties/martin/users/u-hr-lea', body: () => ({ team: 'hr' }), allowed: [C_ADMIN] },
    { method: 'GET', template: '/parties/{partyId}/users', url: '/v1/parties/martin/users', allowed: [C_ADMIN] },
    { method: 'POST', template: '/parties/{partyId}/users', url: '/v1/parties/martin/users', body: (who) => ({ id: `u-mx-${slug(who)}`, roles: ['viewer'] }), allowed: [C_ADMIN] },
    { method: 'GET', template: '/parties/{partyId}/agents', url: '/v1/parties/martin/agents', allowed: [C_ADMIN] },
    { method: 'POST', template: '/parties/{partyId}/agents', url: '/v1/parties/martin/agents', body: (who) => ({ id: `ag-mx-${slug(who)}` }), allowed: [C_ADMIN] },
    { method: 'GET', template: '/parties/{partyId}/keys', url: '/v1/parties/martin/keys', allowed: [C_ADMIN] },
    { method: 'POST', template: '/parties/{partyId}/keys', url: '/v1/parties/martin/keys', body: () => ({ userId: 'u-martin-viewer', roles: ['viewer'] }), allowed: [C_ADMIN] },
    { method: 'DELETE', template: '/parties/{partyId}/keys/{keyId}', url: () => `/v1/parties/martin/keys/${keyToRevoke}`, allowed: [C_ADMIN] },
    // A party's signing keys are its own admins' (a user that does not exist: 422, nothing registered).
    { method: 'POST', template: '/parties/{partyId}/users/{userId}/signing-keys', url: '/v1/parties/martin/users/u-someone/signing-keys', body: () => ({ publicKey: 'ab'.repeat(32) }), allowed: [C_ADMIN], expect: { [C_ADMIN]: 422 } },
    { method: 'GET', template: '/parties/{partyId}/signing-keys', url: '/v1/parties/martin/signing-keys', allowed: CLIENT_PEOPLE },
    { method: 'DELETE', template: '/parties/{partyId}/signing-keys/{keyId}', url: '/v1/parties/martin/signing-keys/sk-unknown', allowed: [C_ADMIN], notFound: true },
    { method: 'GET', template: '/parties/{partyId}/webhooks', url: '/v1/parties/martin/webhooks', allowed: [C_ADMIN] },
    { method: 'POST', template: '/parties/{partyId}/webhooks', url: '/v1/parties/martin/webhooks', body: (who) => ({ url: `https://hooks.martin.example/${slug(who)}`, events: ['step.*'] }), allowed: [C_ADMIN] },
    { method: 'DELETE', template: '/parties/{partyId}/webhooks/{webhookId}', url: () => `/v1/parties/martin/webhooks/${webhookToDelete}`, allowed: [C_ADMIN] },
    { method: 'GET', template: '/agent/jobs', url: '/v1/agent/jobs?wait=0', allowed: [AGENT, P_AGENT] },
    { method: 'POST', template: '/agent/jobs/{jobId}/heartbeat', url: '/v1/agent/jobs/job-unknown/heartbeat', body: () => ({}), allowed: [AGENT, P_AGENT], notFound: true },
    { method: 'POST', template: '/agent/jobs/{jobId}/result', url: '/v1/agent/jobs/job-unknown/result', body: () => ({ ok: true, output: {} }), allowed: [AGENT, P_AGENT], notFound: true },
    // Alerts with a key come from the provider's monitoring agent only.
    { method: 'POST', template: '/contracts/{contractId}/monitoring/alerts', url: '/v1/contracts/ctr-martin-2027/monitoring/alerts', body: () => ({ alertKey: 'matrix-disk', title: 'Disk full on srv-web-01' }), allowed: [P_AGENT] },
    { method: 'GET', template: '/contracts/{contractId}/schedules', url: '/v1/contracts/ctr-martin-2027/schedules', allowed: PEOPLE },
    // The test deployment syncs no schedule to Temporal: an allowed caller may find none (404).
    { method: 'POST', template: '/contracts/{contractId}/schedules/{name}/pause', url: '/v1/contracts/ctr-martin-2027/schedules/nightly-backup/pause', body: () => ({ note: 'matrix' }), allowed: PROVIDER_WRITERS, notFound: true },
    { method: 'POST', template: '/contracts/{contractId}/schedules/{name}/resume', url: '/v1/contracts/ctr-martin-2027/schedules/nightly-backup/resume', body: () => ({ note: 'matrix' }), allowed: PROVIDER_WRITERS, notFound: true },
    { method: 'POST', template: '/contracts/{contractId}/schedules/{name}/trigger', url: '/v1/contracts/ctr-martin-2027/schedules/nightly-backup/trigger', allowed: PROVIDER_WRITERS, notFound: true },
    { method: 'POST', template: '/runbooks', url: '/v1/runbooks', body: () => runbook, allowed: PROVIDER_WRITERS },
    { method: 'GET', template: '/runbooks', url: '/v1/runbooks', allowed: PEOPLE },
    { method: 'GET', template: '/runbooks/{key}', url: '/v1/runbooks/restart-service', allowed: PEOPLE },
    { method: 'GET', template: '/runbooks/{key}/versions/{version}', url: '/v1/runbooks/restart-service/versions/1', allowed: PEOPLE },
  ];
}

describe('authorization matrix: every route × every principal kind', () => {
  it('when each kind of principal calls each route, then only the roles the rules name act, agents reach only the agent routes, and a refusal is a problem', async () => {
    const table = await cells();
    // Monitoring alerts are public for signed requests, and take an agent's key too.
    const declared = (await routes()).filter((r) => r.secured || r.path.endsWith('/monitoring/alerts')).map((r) => `${r.method} ${r.path}`).sort();
    // A new route fails here until the matrix says who it allows.
    expect(table.map((c) => `${c.method} /v1${c.template}`).sort()).toEqual(declared);
    const failures: string[] = [];
    for (const cell of table) {
      // Those allowed go last: their call may change what the route finds (a task approved, a key revoked).
      const order = [...PRINCIPALS].sort((a, b) => Number(cell.allowed.includes(a)) - Number(cell.allowed.includes(b)));
      for (const who of order) {
        const url = typeof cell.url === 'string' ? cell.url : cell.url(who);
        const res = await world.call(who === NONE ? undefined : who, cell.method, url, cell.body?.(who));
        const label = `${who} ${cell.method} ${cell.template} → ${res.status} ${JSON.stringify(res.body).slice(0, 160)}`;
        const agent = who === AGENT || who === P_AGENT;
        const agentRoute = cell.template.startsWith('/agent/') || cell.template.endsWith('/monitoring/alerts');
        let ok: boolean;
        if (who === NONE || who === REVOKED) ok = res.status === 401;
        else if (cell.allowed.includes(who)) {
          const pinned = cell.expect?.[who];
          ok = pinned !== undefined ? res.status === pinned : res.status < 500 && ![401, 403].includes(res.status) && (res.status !== 404 || cell.notFound === true);
        } else if (agent && !agentRoute) ok = res.status === 403 && /agent key reaches only the agent routes/.test(String(res.body.detail));
        else if (cell.hidden?.includes(who)) ok = res.status === 404;
        else ok = res.status === 403 || res.status === 404 || (cell.refusedBy !== undefined && res.status === cell.refusedBy.status && res.body.type === cell.refusedBy.type);
        if (ok && res.status >= 400 && !res.type.includes('application/problem+json')) ok = false;
        if (!ok) failures.push(label);
      }
    }
    expect(failures).toEqual([]);
  }, 240_000);
});

describe('authorization matrix: outsiders', () => {
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
  // The listener's connection last ran its LISTEN, or, after 10 s, its own ping (db/notifications.ts).
  const listening = async () =>
    (await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where datname = current_database() and query in ('LISTEN mandate_api_keys', 'SELECT pg_notify($1, $2)')`.execute(db())).rows[0]!.n;

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
    await sql`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and query in ('LISTEN mandate_api_keys', 'SELECT pg_notify($1, $2)')`.execute(db());
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
