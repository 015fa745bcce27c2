// Administration through HTTP: parties, users, agents, API keys and webhook subscriptions,
// with who may do what (bootstrap key, provider admin, client admin, viewer, operator, agent).
// Each party administers its own people: the provider creates a party and invites its first
// admin, once; from then on only that party's admins create, change and key its users.
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app';
import { createLogger } from '../../api/observability';
import { createContract } from '../../db/contracts';
import { createSecretBox } from '../../db/secret-box';
import type { TemporalHandle } from '../../temporal/client';
import { createTestDatabase, type TestDatabase } from '../support/db';

const ADMIN_KEY = `bootstrap-${randomBytes(16).toString('hex')}`;
const logged: string[] = [];
const capture = new Writable({
  write(chunk: Buffer, _encoding, done) {
    logged.push(chunk.toString());
    done();
  },
});

let t: TestDatabase;
let server: Server;
let url: string;
/** Who → clear key; `boot` is MANDATE_ADMIN_KEY. */
const keys = new Map<string, string>([['boot', ADMIN_KEY]]);

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON answers of many shapes

async function call(who: string | undefined, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const key = who === undefined ? undefined : (keys.get(who) ?? who);
  const res = await fetch(url + path, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type') ?? '', headers: res.headers, text, body: (text ? JSON.parse(text) : {}) as Json };
}

const paths = (res: { body: Json }) => ((res.body.errors ?? []) as { path: string }[]).map((e) => e.path);

async function issue(who: string, partyId: string, holder: { userId?: string; agentId?: string }, roles: string[]) {
  const res = await call(who, 'POST', `/v1/parties/${partyId}/keys`, { ...holder, roles });
  expect(res.status, res.text).toBe(201);
  return res.body as { id: string; key: string; prefix: string };
}

beforeAll(async () => {
  t = await createTestDatabase();
  const app = createApp({
    db: t.db,
    // These routes never touch Temporal.
    temporal: {} as TemporalHandle,
    log: createLogger('trace', capture),
    adminKey: ADMIN_KEY,
    secretBox: createSecretBox([{ id: 'test', key: randomBytes(32) }]),
  });
  server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => {
    server?.close(() => resolve());
    server?.closeAllConnections();
  });
  await t?.drop();
});

describe('bootstrap: MANDATE_ADMIN_KEY on an empty deployment', () => {
  it('when no provider exists yet, then the bootstrap key sees no party and creates the provider, once', async () => {
    expect((await call('boot', 'GET', '/v1/parties')).body).toEqual({ items: [], next: null });
    const created = await call('boot', 'POST', '/v1/parties', { id: 'nuvola', kind: 'provider', name: 'Nuvola', timezone: 'Europe/Paris' });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe('/v1/parties/nuvola');
    expect(created.body).toMatchObject({ id: 'nuvola', kind: 'provider', contractedBy: null });
    const second = await call('boot', 'POST', '/v1/parties', { id: 'other-provider', kind: 'provider', name: 'Other', timezone: 'Europe/Paris' });
    expect(second.status).toBe(409);
    expect(second.type).toContain('application/problem+json');
  });

  it("when the bootstrap key builds the deployment, then it creates the parties and the provider's people, and invites each other party's first admin", async () => {
    for (const party of [
      { id: 'martin', kind: 'client', name: 'Boulangeries Martin', timezone: 'Europe/Paris' },
      { id: 'other', kind: 'client', name: 'Other Client', timezone: 'America/New_York' },
      { id: 'dc-lyon', kind: 'third-party', name: 'DC Lyon', timezone: 'Europe/Paris', contractedBy: 'nuvola' },
    ]) expect((await call('boot', 'POST', '/v1/parties', party)).status).toBe(201);
    for (const [id, roles] of [['u-nadmin', ['admin', 'operator']], ['u-nop', ['operator']]] as const) {
      const res = await call('boot', 'POST', '/v1/parties/nuvola/users', { id, roles, name: id });
      expect(res.status, res.text).toBe(201);
      expect(res.body).toMatchObject({ id, partyId: 'nuvola', roles });
    }
    keys.set('padmin', (await issue('boot', 'nuvola', { userId: 'u-nadmin' }, ['admin'])).key);
    keys.set('operator', (await issue('boot', 'nuvola', { userId: 'u-nop' }, ['operator'])).key);
    for (const [partyId, id, who] of [['martin', 'u-madmin', 'cadmin'], ['other', 'u-oadmin', 'oadmin']] as const) {
      const invited = await call('boot', 'POST', `/v1/parties/${partyId}/first-admin`, { id, name: id });
      expect(invited.status, invited.text).toBe(201);
      expect(invited.body.user).toMatchObject({ id, partyId, roles: ['admin'] });
      expect(invited.headers.get('location')).toBe(`/v1/parties/${partyId}/users/${id}`);
      keys.set(who, invited.body.key.key as string);
    }
    // From here on, martin's people are martin's admin's business.
    expect((await call('boot', 'POST', '/v1/parties/martin/users', { id: 'u-mview', roles: ['viewer', 'approver'] })).status).toBe(403);
    expect((await call('boot', 'POST', '/v1/parties/martin/first-admin', { id: 'u-madmin-2' })).status).toBe(409);
    const viewerUser = await call('cadmin', 'POST', '/v1/parties/martin/users', { id: 'u-mview', roles: ['viewer', 'approver'], name: 'u-mview' });
    expect(viewerUser.status, viewerUser.text).toBe(201);
    expect((await call('cadmin', 'POST', '/v1/parties/martin/agents', { id: 'martin-agent-1', site: 'lyon' })).body).toMatchObject({ id: 'martin-agent-1', partyId: 'martin', roles: ['agent'] });

    keys.set('viewer', (await issue('cadmin', 'martin', { userId: 'u-mview' }, ['viewer'])).key);
    keys.set('agent', (await issue('cadmin', 'martin', { agentId: 'martin-agent-1' }, ['agent'])).key);
    const revoked = await issue('cadmin', 'martin', { userId: 'u-madmin' }, ['admin']);
    expect((await call('cadmin', 'DELETE', `/v1/parties/martin/keys/${revoked.id}`)).status).toBe(204);
    keys.set('revoked', revoked.key);

    // Nuvola and Martin share a contract (with Nuvola's data centre); "other" shares nothing.
    await createContract(t.db, { id: 'ctr-martin', providerId: 'nuvola', clientId: 'martin', partyIds: ['dc-lyon'], currency: 'EUR', document: {}, createdBy: 'u-nadmin' });
  });

  it('when the bootstrap key is used, then it never reaches the logs', () => {
    expect(logged.length).toBeGreaterThan(0);
    expect(logged.join('\n')).not.toContain(ADMIN_KEY);
  });
});

describe('parties', () => {
  it('when parties are listed, then each caller sees its own party and those of its contracts; provider admins see all', async () => {
    const ids = async (who: string) => ((await call(who, 'GET', '/v1/parties')).body.items as { id: string }[]).map((p) => p.id);
    expect(await ids('padmin')).toEqual(['dc-lyon', 'martin', 'nuvola', 'other']);
    expect(await ids('boot')).toEqual(['dc-lyon', 'martin', 'nuvola', 'other']);
    expect(await ids('cadmin')).toEqual(['dc-lyon', 'martin', 'nuvola']);
    // An agent key reaches only the agent routes.
    expect((await call('agent', 'GET', '/v1/parties')).status).toBe(403);
    expect(await ids('operator')).toEqual(['dc-lyon', 'martin', 'nuvola']);
    expect(await ids('oadmin')).toEqual(['other']);
  });

  it.each([
    ['padmin', 200], ['boot', 200], ['cadmin', 200], ['viewer', 200], ['operator', 200], ['agent', 403],
    ['oadmin', 404], [undefined, 401], ['revoked', 401], ['mk_000000000000_not-a-key-at-all-xxxxxxxxxxxxxxxxxxxxxxxxxxxxx', 401],
  ] as const)('when %s reads party martin, then %i', async (who, status) => {
    const res = await call(who, 'GET', '/v1/parties/martin');
    expect(res.status).toBe(status);
    if (status === 200) expect(res.body).toMatchObject({ id: 'martin', kind: 'client', timezone: 'Europe/Paris' });
    else expect(res.type).toContain('application/problem+json');
  });

  it('when a party does not exist, then it is 404 for everyone, provider admin included', async () => {
    expect((await call('padmin', 'GET', '/v1/parties/nowhere')).status).toBe(404);
    expect((await call('padmin', 'POST', '/v1/parties/nowhere/users', { id: 'u-x', roles: ['viewer'] })).status).toBe(404);
    expect((await call('padmin', 'POST', '/v1/parties/nowhere/first-admin', { id: 'u-x' })).status).toBe(404);
    expect((await call('padmin', 'GET', '/v1/parties/nowhere/keys')).status).toBe(404);
  });

  it.each([['padmin', 201], ['boot', 201], ['cadmin', 403], ['viewer', 403], ['operator', 403], ['agent', 403], ['oadmin', 403], [undefined, 401], ['revoked', 401]] as const)(
    'when %s creates a party, then %i',
    async (who, status) => {
      const res = await call(who, 'POST', '/v1/parties', { id: `vendor-${String(who)}`, kind: 'third-party', name: 'Vendor', timezone: 'UTC', contractedBy: 'martin' });
      expect(res.status).toBe(status);
    },
  );

  it('when a party is invalid, then 400 names each field; a taken id is 409; an unknown contractor 422', async () => {
    const missing = await call('padmin', 'POST', '/v1/parties', { id: 'Not A Slug', kind: 'vendor', timezone: 'Mars/Olympus' });
    expect(missing.status).toBe(400);
    expect(missing.type).toContain('application/problem+json');
    expect(paths(missing).sort()).toEqual(['body.id', 'body.kind', 'body.name', 'body.timezone']);
    const noContractor = await call('padmin', 'POST', '/v1/parties', { id: 'dc-paris', kind: 'third-party', name: 'DC Paris', timezone: 'Europe/Paris' });
    expect(paths(noContractor)).toEqual(['body.contractedBy']);
    const extra = await call('padmin', 'POST', '/v1/parties', { id: 'x1', kind: 'client', name: 'X', timezone: 'UTC', admin: true });
    expect(extra.status).toBe(400);
    expect((await call('padmin', 'POST', '/v1/parties', { id: 'martin', kind: 'client', name: 'Again', timezone: 'UTC' })).status).toBe(409);
    const unknown = await call('padmin', 'POST', '/v1/parties', { id: 'dc-paris', kind: 'third-party', name: 'DC Paris', timezone: 'Europe/Paris', contractedBy: 'nobody' });
    expect(unknown.status).toBe(422);
    expect(paths(unknown)).toEqual(['body.contractedBy']);
  });
});

describe('users and agents', () => {
  const managing = [['padmin', 403], ['boot', 403], ['cadmin', 2], ['viewer', 403], ['operator', 403], ['agent', 403], ['oadmin', 404], [undefined, 401], ['revoked', 401]] as const;

  it.each(managing)("when %s adds a user and an agent to martin and lists them, then %s (2xx when allowed)", async (who, expected) => {
    const suffix = String(who);
    const user = await call(who, 'POST', '/v1/parties/martin/users', { id: `u-${suffix}`, roles: ['operator'], team: 'hr' });
    const users = await call(who, 'GET', '/v1/parties/martin/users');
    const agent = await call(who, 'POST', '/v1/parties/martin/agents', { id: `agent-${suffix}` });
    const agents = await call(who, 'GET', '/v1/parties/martin/agents');
    if (expected === 2) {
      expect([user.status, users.status, agent.status, agents.status]).toEqual([201, 200, 201, 200]);
      expect((users.body.items as { id: string }[]).map((u) => u.id)).toContain(`u-${suffix}`);
      expect((agents.body.items as { id: string }[]).map((a) => a.id)).toContain(`agent-${suffix}`);
    } else {
      expect([user.status, users.status, agent.status, agents.status]).toEqual([expected, expected, expected, expected]);
    }
  });

  it("when a client admin manages the provider it can see, then 403, and the provider admin manages the client's users no more", async () => {
    expect((await call('cadmin', 'GET', '/v1/parties/nuvola/users')).status).toBe(403);
    expect((await call('cadmin', 'POST', '/v1/parties/nuvola/users', { id: 'u-intruder', roles: ['admin'] })).status).toBe(403);
    expect((await call('padmin', 'GET', '/v1/parties/martin/users')).status).toBe(403);
    expect((await call('padmin', 'PATCH', '/v1/parties/martin/users/u-mview', { roles: ['admin'] })).status).toBe(403);
  });

  it("when a party's admin changes a user, then the change shows, a bad change is 400 naming the field, and the last admin stays admin", async () => {
    const changed = await call('cadmin', 'PATCH', '/v1/parties/martin/users/u-mview', { team: 'cab', name: 'Viewer' });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ id: 'u-mview', team: 'cab', name: 'Viewer', roles: ['viewer', 'approver'] });
    expect(paths(await call('cadmin', 'PATCH', '/v1/parties/martin/users/u-mview', {}))).toEqual(['body']);
    expect(paths(await call('cadmin', 'PATCH', '/v1/parties/martin/users/u-mview', { roles: ['root'] }))).toEqual(['body.roles.0']);
    expect((await call('cadmin', 'PATCH', '/v1/parties/martin/users/u-nadmin', { team: 'x' })).status).toBe(404);
    const last = await call('cadmin', 'PATCH', '/v1/parties/martin/users/u-madmin', { roles: ['viewer'] });
    expect(last.status).toBe(409);
    expect(last.type).toContain('application/problem+json');
    expect((await call('viewer', 'PATCH', '/v1/parties/martin/users/u-mview', { roles: ['viewer'] })).status).toBe(403);
    expect((await call('oadmin', 'PATCH', '/v1/parties/martin/users/u-mview', { roles: ['viewer'] })).status).toBe(404);
  });

  it('when a user id is taken in any party, then 409; an invalid user is 400 with its fields', async () => {
    expect((await call('padmin', 'POST', '/v1/parties/nuvola/users', { id: 'u-madmin', roles: ['viewer'] })).status).toBe(409);
    expect((await call('cadmin', 'POST', '/v1/parties/martin/agents', { id: 'martin-agent-1' })).status).toBe(409);
    const bad = await call('cadmin', 'POST', '/v1/parties/martin/users', { id: 'U_1', roles: ['agent'] });
    expect(bad.status).toBe(400);
    expect(paths(bad).sort()).toEqual(['body.id', 'body.roles.0']);
    expect(paths(await call('cadmin', 'POST', '/v1/parties/martin/users', { id: 'u-2', roles: [] }))).toEqual(['body.roles']);
  });
});

describe('API keys', () => {
  it.each([['padmin', 403], ['boot', 403], ['cadmin', 201], ['viewer', 403], ['operator', 403], ['agent', 403], ['oadmin', 404], [undefined, 401], ['revoked', 401]] as const)(
    'when %s issues a key to a martin user, then %i',
    async (who, status) => {
      const res = await call(who, 'POST', '/v1/parties/martin/keys', { userId: 'u-mview', roles: ['viewer'] });
      expect(res.status).toBe(status);
      if (status === 201) {
        expect(res.body.key).toMatch(new RegExp(`^mk_${res.body.prefix as string}_`));
        expect((await call(res.body.key as string, 'GET', '/v1/parties/martin')).status).toBe(200);
      }
    },
  );

  it("when a key's holder or roles are wrong, then 422 names the field; a body naming two holders is 400", async () => {
    const tooMuch = await call('cadmin', 'POST', '/v1/parties/martin/keys', { userId: 'u-mview', roles: ['viewer', 'admin'] });
    expect(tooMuch.status).toBe(422);
    expect(paths(tooMuch)).toEqual(['body.roles']);
    expect(paths(await call('cadmin', 'POST', '/v1/parties/martin/keys', { userId: 'u-nadmin', roles: ['admin'] }))).toEqual(['body.userId']);
    expect(paths(await call('cadmin', 'POST', '/v1/parties/martin/keys', { agentId: 'martin-agent-1', roles: ['viewer'] }))).toEqual(['body.roles']);
    const both = await call('cadmin', 'POST', '/v1/parties/martin/keys', { userId: 'u-mview', agentId: 'martin-agent-1', roles: ['agent'] });
    expect(both.status).toBe(400);
    expect(paths(both)).toEqual(['body.userId']);
    expect(paths(await call('cadmin', 'POST', '/v1/parties/martin/keys', { userId: 'u-mview', roles: ['root'] }))).toEqual(['body.roles.0']);
  });

  it('when keys are listed, then prefix, holder, roles and dates show, never the key or its hash', async () => {
    const res = await call('cadmin', 'GET', '/v1/parties/martin/keys');
    expect(res.status).toBe(200);
    const items = res.body.items as Json[];
    expect(items.length).toBeGreaterThan(3);
    expect(Object.keys(items[0]!).sort()).toEqual(['agentId', 'createdAt', 'id', 'lastUsedAt', 'partyId', 'prefix', 'revokedAt', 'roles', 'userId']);
    expect(items.find((k) => k.agentId === 'martin-agent-1')).toMatchObject({ roles: ['agent'], userId: null });
    expect(items.find((k) => keys.get('viewer')!.startsWith(`mk_${k.prefix as string}_`))?.lastUsedAt).not.toBeNull();
    expect(res.text).not.toContain(keys.get('viewer')!.split('_')[2]!);
    expect(res.text).not.toMatch(/hash/i);
    for (const who of ['viewer', 'operator', 'agent'] as const) expect((await call(who, 'GET', '/v1/parties/martin/keys')).status).toBe(403);
    expect((await call('oadmin', 'GET', '/v1/parties/martin/keys')).status).toBe(404);
    expect((await call('cadmin', 'GET', '/v1/parties/other/keys')).status).toBe(404);
  });

  it('when a key is revoked, then it is 401 at once and revoking it again is 204; an unknown or foreign key is 404', async () => {
    const issued = await issue('cadmin', 'martin', { userId: 'u-mview' }, ['approver']);
    expect((await call(issued.key, 'GET', '/v1/parties')).status).toBe(200);
    expect((await call('viewer', 'DELETE', `/v1/parties/martin/keys/${issued.id}`)).status).toBe(403);
    expect((await call('oadmin', 'DELETE', `/v1/parties/martin/keys/${issued.id}`)).status).toBe(404);
    expect((await call('cadmin', 'DELETE', `/v1/parties/martin/keys/${issued.id}`)).status).toBe(204);
    expect((await call(issued.key, 'GET', '/v1/parties')).status).toBe(401);
    expect((await call('cadmin', 'DELETE', `/v1/parties/martin/keys/${issued.id}`)).status).toBe(204);
    const listed = (await call('cadmin', 'GET', '/v1/parties/martin/keys')).body.items as Json[];
    expect(listed.find((k) => k.id === issued.id)?.revokedAt).toEqual(expect.any(String));
    expect((await call('cadmin', 'DELETE', '/v1/parties/martin/keys/00000000-0000-0000-0000-000000000000')).status).toBe(404);
    const nuvolaKey = ((await call('padmin', 'GET', '/v1/parties/nuvola/keys')).body.items as Json[])[0]!.id as string;
    expect((await call('cadmin', 'DELETE', `/v1/parties/martin/keys/${nuvolaKey}`)).status).toBe(404);
    expect((await call('padmin', 'DELETE', `/v1/parties/martin/keys/${nuvolaKey}`)).status).toBe(403);
  });

  it('when a key request is retried with the same Idempotency-Key, then one key is issued and the same answer replayed', async () => {
    const count = async () => ((await call('cadmin', 'GET', '/v1/parties/martin/keys')).body.items as Json[]).filter((k) => k.userId === 'u-madmin').length;
    const before = await count();
    const body = { userId: 'u-madmin', roles: ['admin'] };
    const headers = { 'idempotency-key': 'issue-admin-key-1' };
    const [first, second, third] = await Promise.all([1, 2, 3].map(() => call('cadmin', 'POST', '/v1/parties/martin/keys', body, headers)));
    for (const res of [first!, second!, third!]) {
      expect(res.status).toBe(201);
      expect(res.body).toEqual(first!.body);
      expect(res.headers.get('location')).toBe(`/v1/parties/martin/keys/${first!.body.id as string}`);
    }
    expect([first, second, third].filter((r) => r!.headers.get('idempotent-replayed') === 'true')).toHaveLength(2);
    expect(await count()).toBe(before + 1);
    // The same key with the fields in another order is the same request.
    expect((await call('cadmin', 'POST', '/v1/parties/martin/keys', { roles: ['admin'], userId: 'u-madmin' }, headers)).body.id).toBe(first!.body.id);
    const other = await call('cadmin', 'POST', '/v1/parties/martin/keys', { userId: 'u-mview', roles: ['viewer'] }, headers);
    expect(other.status).toBe(422);
    expect(other.body.type).toBe('/problems/idempotency-key-reused');
    // Keys are per caller: another admin's same header value is another request.
    expect((await call('cadmin', 'POST', '/v1/parties/martin/users', { id: 'u-madmin-2', roles: ['admin'] })).status).toBe(201);
    keys.set('cadmin2', (await issue('cadmin', 'martin', { userId: 'u-madmin-2' }, ['admin'])).key);
    expect((await call('cadmin2', 'POST', '/v1/parties/martin/keys', body, headers)).body.id).not.toBe(first!.body.id);
    expect(await count()).toBe(before + 2);
    // A stored response holds the key sealed, never in clear.
    const stored = await t.db.selectFrom('idempotency_keys').select('response_body').execute();
    expect(JSON.stringify(stored)).not.toContain(first!.body.key as string);
    const invalid = await call('cadmin', 'POST', '/v1/parties/martin/keys', body, { 'idempotency-key': 'no spaces allowed' });
    expect(paths(invalid)).toEqual(['header.idempotency-key']);
  });

  it('when a request with an Idempotency-Key fails, then nothing is stored and a corrected retry is not replayed as the failure', async () => {
    const headers = { 'idempotency-key': 'issue-after-failure' };
    expect((await call('cadmin', 'POST', '/v1/parties/martin/keys', { userId: 'u-mview', roles: ['admin'] }, headers)).status).toBe(422);
    expect((await call('cadmin', 'POST', '/v1/parties/martin/keys', { userId: 'u-mview', roles: ['viewer'] }, headers)).status).toBe(201);
  });
});

describe('webhook subscriptions', () => {
  const hook = { url: 'https://hooks.martin.example/mandate', events: ['step.completed', 'step.overdue'] };

  it.each([['padmin', 403], ['boot', 403], ['cadmin', 201], ['viewer', 403], ['operator', 403], ['agent', 403], ['oadmin', 404], [undefined, 401], ['revoked', 401]] as const)(
    'when %s subscribes martin, then %i',
    async (who, status) => {
      const res = await call(who, 'POST', '/v1/parties/martin/webhooks', hook);
      expect(res.status).toBe(status);
      if (status === 201) expect(res.body).toMatchObject({ partyId: 'martin', ...hook, disabledAt: null, secret: expect.stringMatching(/^whsec_/) });
    },
  );

  it('when a subscription is created, then its secret is shown once and stored sealed; listing never shows it', async () => {
    const created = await call('cadmin', 'POST', '/v1/parties/martin/webhooks', { url: 'https://hooks.martin.example/all', events: ['*'] });
    const secret = created.body.secret as string;
    const row = await t.db.selectFrom('webhook_subscriptions').selectAll().where('id', '=', created.body.id as string).executeTakeFirstOrThrow();
    expect(row.secret).not.toContain(secret);
    expect(row.secret).toMatch(/^sb1:test:/);
    const listed = await call('cadmin', 'GET', '/v1/parties/martin/webhooks');
    expect(listed.status).toBe(200);
    expect((listed.body.items as Json[]).find((w) => w.id === created.body.id)).toEqual({ id: created.body.id, partyId: 'martin', url: 'https://hooks.martin.example/all', events: ['*'], createdAt: expect.any(String), disabledAt: null });
    expect(listed.text).not.toContain('secret');
    expect((await call('viewer', 'GET', '/v1/parties/martin/webhooks')).status).toBe(403);
    expect((await call('oadmin', 'GET', '/v1/parties/martin/webhooks')).status).toBe(404);
  });

  it('when a subscription is deleted, then it is disabled (again: 204); an unknown one is 404', async () => {
    const created = await call('cadmin', 'POST', '/v1/parties/martin/webhooks', hook);
    const id = created.body.id as string;
    expect((await call('viewer', 'DELETE', `/v1/parties/martin/webhooks/${id}`)).status).toBe(403);
    expect((await call('oadmin', 'DELETE', `/v1/parties/martin/webhooks/${id}`)).status).toBe(404);
    expect((await call('cadmin', 'DELETE', `/v1/parties/martin/webhooks/${id}`)).status).toBe(204);
    expect((await call('cadmin', 'DELETE', `/v1/parties/martin/webhooks/${id}`)).status).toBe(204);
    const listed = (await call('cadmin', 'GET', '/v1/parties/martin/webhooks')).body.items as Json[];
    expect(listed.find((w) => w.id === id)?.disabledAt).toEqual(expect.any(String));
    expect((await call('cadmin', 'DELETE', '/v1/parties/martin/webhooks/nope')).status).toBe(404);
    expect((await call('padmin', 'DELETE', `/v1/parties/nuvola/webhooks/${id}`)).status).toBe(404);
    expect((await call('padmin', 'DELETE', `/v1/parties/martin/webhooks/${id}`)).status).toBe(403);
  });

  it.each([
    [{ url: 'http://hooks.martin.example/x', events: ['*'] }, ['body.url']],
    [{ url: 'https://127.0.0.1/x', events: ['*'] }, ['body.url']],
    [{ url: 'https://localhost:8443/x', events: ['*'] }, ['body.url']],
    [{ url: 'https://[::1]/x', events: ['*'] }, ['body.url']],
    [{ url: 'https://169.254.169.254/latest', events: ['*'] }, ['body.url']],
    [{ url: 'https://10.20.30.40/x', events: ['*'] }, ['body.url']],
    [{ url: 'https://[::ffff:192.168.1.1]/x', events: ['*'] }, ['body.url']],
    [{ url: 'https://user:pw@hooks.martin.example/x', events: ['*'] }, ['body.url']],
    [{ url: 'not a url', events: [] }, ['body.events', 'body.url']],
    [{ url: 'https://hooks.martin.example/x', events: ['Step Completed'] }, ['body.events.0']],
    [{ url: 'https://hooks.martin.example/x' }, ['body.events']],
  ])('when a subscription is %j, then 400 names %j', async (body, expected) => {
    const res = await call('cadmin', 'POST', '/v1/parties/martin/webhooks', body);
    expect(res.status).toBe(400);
    expect(res.type).toContain('application/problem+json');
    expect([...new Set(paths(res))].sort()).toEqual(expected);
  });

  it('when a subscription names a public address literally, then it is accepted (IPv4 and IPv6)', async () => {
    for (const url of ['https://93.184.215.14/hook', 'https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/hook']) {
      const res = await call('cadmin', 'POST', '/v1/parties/martin/webhooks', { url, events: ['*'] });
      expect(res.status, url).toBe(201);
    }
  });

  it('when a subscription is retried with the same Idempotency-Key, then one subscription exists', async () => {
    const count = async () => ((await call('cadmin', 'GET', '/v1/parties/martin/webhooks')).body.items as Json[]).length;
    const before = await count();
    const body = { url: 'https://hooks.martin.example/once', events: ['task.*'] };
    const first = await call('cadmin', 'POST', '/v1/parties/martin/webhooks', body, { 'idempotency-key': 'hook-once' });
    const again = await call('cadmin', 'POST', '/v1/parties/martin/webhooks', body, { 'idempotency-key': 'hook-once' });
    expect([first.status, again.status]).toEqual([201, 201]);
    expect(again.body).toEqual(first.body);
    expect(await count()).toBe(before + 1);
  });
});

/** Every page of a list, following `next` from a first page of `limit` rows. */
async function walk(who: string, path: string, limit: number) {
  const items: Json[] = [];
  const cursors: string[] = [];
  let next: string | null = null;
  do {
    const page: { status: number; text: string; body: Json } = await call(who, 'GET', `${path}?limit=${limit}${next ? `&after=${next}` : ''}`);
    expect(page.status, page.text).toBe(200);
    expect(Object.keys(page.body).sort()).toEqual(['items', 'next']);
    expect((page.body.items as Json[]).length).toBeLessThanOrEqual(limit);
    items.push(...(page.body.items as Json[]));
    next = page.body.next as string | null;
    if (next) cursors.push(next);
  } while (next);
  return { ids: items.map((i) => i.id as string), items, pages: cursors.length + 1, cursors };
}

const cursorKey = (cursor: string) => JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as string[];
const cursor = (key: unknown) => Buffer.from(JSON.stringify(key)).toString('base64url');

describe('paging the administration lists', () => {
  it('when parties are listed a page at a time, then each caller walks exactly the parties it sees, by id, each once', async () => {
    for (const id of ['page-p1', 'page-p2', 'page-p3', 'page-p4', 'page-p5']) expect((await call('boot', 'POST', '/v1/parties', { id, kind: 'client', name: id, timezone: 'UTC' })).status).toBe(201);
    const all = (await t.db.selectFrom('parties').select('id').orderBy('id').execute()).map((p) => p.id);
    expect(all.length).toBeGreaterThan(6);
    for (const who of ['padmin', 'boot']) {
      const walked = await walk(who, '/v1/parties', 2);
      expect(walked.ids).toEqual(all);
      expect(walked.pages).toBe(Math.ceil(all.length / 2));
      expect((await call(who, 'GET', '/v1/parties?limit=200')).body).toEqual({ items: walked.items, next: null });
    }
    // Those who see some parties page through those only: no cursor names a party they cannot see.
    for (const [who, visible] of [['cadmin', ['dc-lyon', 'martin', 'nuvola']], ['viewer', ['dc-lyon', 'martin', 'nuvola']], ['oadmin', ['other']]] as const) {
      const walked = await walk(who, '/v1/parties', 1);
      expect(walked.ids, who).toEqual(visible);
      expect(walked.cursors.map((c) => cursorKey(c)[0]), who).toEqual(visible.slice(0, -1));
    }
    // A cursor past every visible party gives an empty last page, whatever follows it.
    expect((await call('cadmin', 'GET', `/v1/parties?after=${cursor(['nuvola'])}`)).body).toEqual({ items: [], next: null });
    expect((await call('cadmin', 'GET', `/v1/parties?limit=1&after=${cursor(['martin'])}`)).body).toMatchObject({ items: [{ id: 'nuvola' }], next: null });
  });

  it("when a party's users and agents are listed a page at a time, then every one of them comes once, by id, and none of another party", async () => {
    for (const n of [1, 2, 3, 4]) {
      expect((await call('cadmin', 'POST', '/v1/parties/martin/users', { id: `u-page-${n}`, roles: ['viewer'] })).status).toBe(201);
      expect((await call('cadmin', 'POST', '/v1/parties/martin/agents', { id: `agent-page-${n}` })).status).toBe(201);
    }
    const users = (await t.db.selectFrom('users').select('id').where('party_id', '=', 'martin').orderBy('id').execute()).map((u) => u.id);
    const agents = (await t.db.selectFrom('agents').select('id').where('party_id', '=', 'martin').orderBy('id').execute()).map((a) => a.id);
    expect(users.length).toBeGreaterThan(5);
    expect(agents.length).toBeGreaterThan(5);
    expect((await call('padmin', 'GET', '/v1/parties/martin/users?limit=3')).status).toBe(403);
    for (const who of ['cadmin']) {
      const walkedUsers = await walk(who, '/v1/parties/martin/users', 3);
      expect(walkedUsers.ids).toEqual(users);
      expect(walkedUsers.items.every((u) => u.partyId === 'martin')).toBe(true);
      expect(walkedUsers.pages).toBe(Math.ceil(users.length / 3));
      const walkedAgents = await walk(who, '/v1/parties/martin/agents', 3);
      expect(walkedAgents.ids).toEqual(agents);
      expect(walkedAgents.items.every((a) => a.partyId === 'martin')).toBe(true);
    }
    expect((await walk('padmin', '/v1/parties/nuvola/users', 1)).ids).toEqual(['u-nadmin', 'u-nop']);
  });

  it("when a party's keys are listed a page at a time, then every key comes once, oldest first, even keys created in the same millisecond", async () => {
    const extra = [];
    for (const n of [1, 2, 3, 4]) extra.push(await issue('cadmin', 'martin', { userId: `u-page-${n}` }, ['viewer']));
    // Two keys in the same microsecond and one a microsecond later: the cursor keeps PostgreSQL's precision.
    const instants = ['2027-02-01T08:30:00.123456Z', '2027-02-01T08:30:00.123456Z', '2027-02-01T08:30:00.123457Z'];
    for (const [i, at] of instants.entries()) await sql`update api_keys set created_at = ${at}::timestamptz where id = ${extra[i]!.id}`.execute(t.db);
    const keysByAge = (await sql<{ id: string }>`select id from api_keys where party_id = 'martin' order by created_at, id`.execute(t.db)).rows.map((k) => k.id);
    expect(keysByAge.length).toBeGreaterThan(8);
    for (const limit of [1, 2, 5]) {
      const walked = await walk('cadmin', '/v1/parties/martin/keys', limit);
      expect(walked.ids, `limit ${limit}`).toEqual(keysByAge);
      expect(new Set(walked.ids).size).toBe(walked.ids.length);
      expect(walked.items.every((k) => k.partyId === 'martin' && k.key === undefined)).toBe(true);
    }
    expect((await walk('padmin', '/v1/parties/nuvola/keys', 1)).items.every((k) => k.partyId === 'nuvola')).toBe(true);
  });

  it("when a party's webhook subscriptions are listed a page at a time, then every one comes once, oldest first, and never another party's", async () => {
    expect((await call('padmin', 'POST', '/v1/parties/nuvola/webhooks', { url: 'https://hooks.nuvola.example/x', events: ['*'] })).status).toBe(201);
    for (const n of [1, 2, 3]) expect((await call('cadmin', 'POST', '/v1/parties/martin/webhooks', { url: `https://hooks.martin.example/page-${n}`, events: ['*'] })).status).toBe(201);
    const hooks = (await sql<{ id: string }>`select id from webhook_subscriptions where party_id = 'martin' order by created_at, id`.execute(t.db)).rows.map((w) => w.id);
    expect(hooks.length).toBeGreaterThan(6);
    for (const limit of [1, 4]) {
      const walked = await walk('cadmin', '/v1/parties/martin/webhooks', limit);
      expect(walked.ids, `limit ${limit}`).toEqual(hooks);
      expect(walked.items.every((w) => w.partyId === 'martin')).toBe(true);
      expect(JSON.stringify(walked.items)).not.toContain('secret');
    }
  });

  it.each(['/v1/parties', '/v1/parties/martin/users', '/v1/parties/martin/agents', '/v1/parties/martin/keys', '/v1/parties/martin/webhooks'])(
    'when %s gets a bad limit or cursor, then 400 names query.limit or query.after',
    async (path) => {
      for (const [query, field] of [
        ['limit=0', 'query.limit'], ['limit=201', 'query.limit'], ['limit=ten', 'query.limit'], ['limit=1.5', 'query.limit'],
        ['after=garbage', 'query.after'], [`after=${cursor([1])}`, 'query.after'], [`after=${cursor(['a', 'b', 'c'])}`, 'query.after'],
        [`after=${cursor(['2027-02-30T00:00:00.000000Z', 'x'])}`, 'query.after'], [`after=${cursor(['0000-01-01T00:00:00.000000Z', 'x'])}`, 'query.after'],
        ['colour=red', 'query'],
      ] as const) {
        const res = await call('cadmin', 'GET', `${path}?${query}`);
        expect(res.status, `${path}?${query}`).toBe(400);
        expect(res.type).toContain('application/problem+json');
        expect(paths(res), `${path}?${query}`).toEqual([field]);
      }
      // The cursor of another list's key shape is malformed here too.
      const otherShape = path.endsWith('/keys') || path.endsWith('/webhooks') ? cursor(['martin']) : cursor(['2027-02-01T08:30:00.123456Z', 'x']);
      expect(paths(await call('cadmin', 'GET', `${path}?after=${otherShape}`))).toEqual(['query.after']);
    },
  );

  it('when a caller may not list a party, then paging parameters change nothing: 404 unseen, 403 unadministered, 401 without a key', async () => {
    for (const list of ['users', 'agents', 'keys', 'webhooks']) {
      expect((await call('oadmin', 'GET', `/v1/parties/martin/${list}?limit=1`)).status).toBe(404);
      expect((await call('viewer', 'GET', `/v1/parties/martin/${list}?limit=1`)).status).toBe(403);
      expect((await call('cadmin', 'GET', `/v1/parties/nuvola/${list}?limit=1`)).status).toBe(403);
      expect((await call(undefined, 'GET', `/v1/parties/martin/${list}?limit=1`)).status).toBe(401);
    }
    expect((await call(undefined, 'GET', '/v1/parties?limit=1')).status).toBe(401);
  });
});

describe('the OpenAPI document', () => {
  it('when it is read, then every administration route is in it', async () => {
    const doc = (await call(undefined, 'GET', '/openapi.json')).body;
    const routes = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`));
    expect(routes).toEqual(expect.arrayContaining([
      'post /v1/parties', 'get /v1/parties', 'get /v1/parties/{partyId}',
      'post /v1/parties/{partyId}/users', 'get /v1/parties/{partyId}/users', 'post /v1/parties/{partyId}/agents', 'get /v1/parties/{partyId}/agents',
      'post /v1/parties/{partyId}/keys', 'get /v1/parties/{partyId}/keys', 'delete /v1/parties/{partyId}/keys/{keyId}',
      'post /v1/parties/{partyId}/webhooks', 'get /v1/parties/{partyId}/webhooks', 'delete /v1/parties/{partyId}/webhooks/{webhookId}',
    ]));
  });
});
