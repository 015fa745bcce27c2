// The process routes through HTTP: listing with filters and cursors, the live current step,
// cancellation with who and why in the journal, and idempotent concurrent starts.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/harness';
import { enc, onboarding, openTaskOf, paths, startApiWorld, type ApiWorld, type Json } from './support';

let world: ApiWorld;
const call: ApiWorld['call'] = (...args) => world.call(...args);
const started: string[] = [];

beforeAll(async () => {
  world = await startApiWorld(import.meta.url);
  for (const key of ['list-1', 'list-2', 'list-3']) {
    const res = await call('client-op', 'POST', '/v1/contracts/ctr-martin-2027/processes', onboarding(key));
    if (res.status !== 201) throw new Error(JSON.stringify(res.body));
    started.push(res.body.id as string);
  }
  const other = await call('other-client', 'POST', '/v1/contracts/ctr-fournil-2027/processes', onboarding('fournil-1'));
  if (other.status !== 201) throw new Error(JSON.stringify(other.body));
});

afterAll(async () => {
  await world?.stop();
});

describe('GET /v1/processes', () => {
  it('when a party lists, then it sees the processes of its contracts only, newest first, a page at a time', async () => {
    const all = await call('client-viewer', 'GET', '/v1/processes?limit=200');
    expect(all.status).toBe(200);
    const ids = (all.body.items as Json[]).map((p) => p.id as string);
    expect(ids).toEqual(expect.arrayContaining(started));
    expect(ids.every((id) => id.startsWith('mandate:ctr-martin-2027:'))).toBe(true);
    const times = (all.body.items as Json[]).map((p) => p.startedAt as string);
    expect(times).toEqual([...times].sort().reverse());

    const seen: string[] = [];
    let next: string | null = null;
    do {
      const page: { status: number; body: Json } = await call('client-viewer', 'GET', `/v1/processes?limit=2${next ? `&after=${next}` : ''}`);
      expect(page.status).toBe(200);
      seen.push(...(page.body.items as Json[]).map((p) => p.id as string));
      next = page.body.next as string | null;
    } while (next);
    expect(seen).toEqual(ids);

    const provider = await call('provider-op', 'GET', '/v1/processes?limit=200');
    expect((provider.body.items as Json[]).map((p) => p.contractId)).toEqual(expect.arrayContaining(['ctr-martin-2027', 'ctr-fournil-2027']));
    const other = await call('other-client', 'GET', '/v1/processes?contractId=ctr-martin-2027');
    expect(other.body.items).toEqual([]);
    // The client's vendor has no part in onboardings waiting on their approval; an agent key reads no process.
    const vendor = await call('vendor', 'GET', '/v1/processes');
    expect(vendor.status).toBe(200);
    expect((vendor.body.items as Json[]).map((p) => p.id)).not.toEqual(expect.arrayContaining([started[0]]));
    expect((await call('client-agent', 'GET', '/v1/processes')).status).toBe(403);
  });

  it('when filters are given, then only matching processes are listed', async () => {
    const byContract = await call('provider-op', 'GET', '/v1/processes?contractId=ctr-fournil-2027');
    // The contract's own signing process is one of its processes (docs/ARCHITECTURE.md "Contract signing").
    expect((byContract.body.items as Json[]).map((p) => p.id).sort()).toEqual([expect.stringMatching(/^mandate:ctr-fournil-2027:contract-proposal:v1\./), 'mandate:ctr-fournil-2027:employee-onboarding:fournil-1']);
    expect((await call('provider-op', 'GET', '/v1/processes?type=patch-cycle')).body.items).toEqual([]);
    const running = await call('provider-op', 'GET', '/v1/processes?status=running,completed&type=employee-onboarding&limit=200');
    expect((running.body.items as Json[]).length).toBeGreaterThanOrEqual(4);
    expect((await call('provider-op', 'GET', '/v1/processes?status=failed')).body.items).toEqual([]);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect((await call('provider-op', 'GET', `/v1/processes?startedAfter=${future}`)).body.items).toEqual([]);
    const before = await call('provider-op', 'GET', `/v1/processes?startedBefore=${future}&limit=200`);
    expect((before.body.items as Json[]).length).toBeGreaterThanOrEqual(4);
  });

  it('when the query is wrong, then 400 names the field; without a valid key, 401', async () => {
    expect(paths((await call('provider-op', 'GET', '/v1/processes?status=asleep')).body)[0]).toMatch(/^query\.status/);
    expect(paths((await call('provider-op', 'GET', '/v1/processes?startedAfter=yesterday')).body)).toEqual(['query.startedAfter']);
    expect(paths((await call('provider-op', 'GET', '/v1/processes?after=garbage')).body)).toEqual(['query.after']);
    expect(paths((await call('provider-op', 'GET', '/v1/processes?colour=red')).body)).toEqual(['query']);
    expect((await call(undefined, 'GET', '/v1/processes')).status).toBe(401);
    expect((await call('revoked', 'GET', '/v1/processes')).status).toBe(401);
  });
});

describe('GET /v1/processes/{id}', () => {
  it('when the process waits on an approval, then the current step shows its phase and the caller party’s open tasks', async () => {
    const id = started[0]!;
    const task = await openTaskOf(world, 'client-approver', id, 'iam.grant-privileged');
    const client = await call('client-approver', 'GET', `/v1/processes/${enc(id)}`);
    expect(client.status).toBe(200);
    expect(client.body.currentStepDetail).toMatchObject({ stepKey: 'iam.grant-privileged', phase: 'approving', myOpenTaskIds: [task.id] });
    const provider = await call('provider-op', 'GET', `/v1/processes/${enc(id)}`);
    expect(provider.body.currentStepDetail).toMatchObject({ stepKey: 'iam.grant-privileged', myOpenTaskIds: [] });
  });

  it('when another client, nobody or an unknown id is asked, then 404 or 401', async () => {
    expect((await call('other-client', 'GET', `/v1/processes/${enc(started[0]!)}`)).status).toBe(404);
    expect((await call('client-op', 'GET', `/v1/processes/${enc('mandate:ctr-fournil-2027:employee-onboarding:fournil-1')}`)).status).toBe(404);
    expect((await call('client-op', 'GET', '/v1/processes/nope')).status).toBe(404);
    expect((await call(undefined, 'GET', `/v1/processes/${enc(started[0]!)}`)).status).toBe(401);
  });
});

describe('POST /v1/processes/{id}/cancel', () => {
  it('when someone who may not cancel asks, then 403 if the process is visible, 404 if not, and it keeps running', async () => {
    const id = started[1]!;
    for (const who of ['client-viewer', 'client-approver', 'client-agent']) {
      expect((await call(who, 'POST', `/v1/processes/${enc(id)}/cancel`, { reason: 'no' })).status, who).toBe(403);
    }
    // The vendor and the subcontractor have no part in this onboarding yet: it does not exist for them.
    for (const who of ['vendor', 'subcontractor']) expect((await call(who, 'POST', `/v1/processes/${enc(id)}/cancel`, { reason: 'no' })).status, who).toBe(404);
    expect((await call('other-client', 'POST', `/v1/processes/${enc(id)}/cancel`, { reason: 'no' })).status).toBe(404);
    expect((await call(undefined, 'POST', `/v1/processes/${enc(id)}/cancel`, { reason: 'no' })).status).toBe(401);
    expect((await call('revoked', 'POST', `/v1/processes/${enc(id)}/cancel`, { reason: 'no' })).status).toBe(401);
    expect((await call('client-op', 'POST', '/v1/processes/nope/cancel', { reason: 'no' })).status).toBe(404);
    const noReason = await call('client-op', 'POST', `/v1/processes/${enc(id)}/cancel`, {});
    expect(noReason.status).toBe(400);
    expect(paths(noReason.body)).toEqual(['body.reason']);
    expect((await call('client-op', 'GET', `/v1/processes/${enc(id)}`)).body.status).toBe('running');
  });

  it('when the client operator cancels, then the process ends cancelled, its tasks are cancelled and the journal shows who and why', async () => {
    const id = started[2]!;
    const task = await openTaskOf(world, 'client-approver', id, 'iam.grant-privileged');
    const res = await call('client-op', 'POST', `/v1/processes/${enc(id)}/cancel`, { reason: 'the hire fell through' });
    expect(res.status).toBe(202);
    const ended = await waitFor('the process to be cancelled', async () => {
      const p = await call('client-op', 'GET', `/v1/processes/${enc(id)}`);
      return p.body.status === 'cancelled' ? p : undefined;
    });
    expect(ended.body.journal).toContainEqual(expect.objectContaining({ event: 'process.cancel-requested', partyId: 'martin', actor: 'user:u-hr-lea', data: { reason: 'the hire fell through' } }));
    expect((await call('client-approver', 'GET', `/v1/tasks/${task.id}`)).body.status).toBe('cancelled');
    const again = await call('provider-op', 'POST', `/v1/processes/${enc(id)}/cancel`, { reason: 'twice' });
    expect(again.status).toBe(409);
    expect(again.body.status).toBe('cancelled');
  });

  it('when the provider operator cancels, then it is accepted too', async () => {
    const res = await call('client-op', 'POST', '/v1/contracts/ctr-martin-2027/processes', onboarding('cancel-by-provider'));
    const cancel = await call('provider-op', 'POST', `/v1/processes/${enc(res.body.id as string)}/cancel`, { reason: 'duplicate request' });
    expect(cancel.status).toBe(202);
    await waitFor('cancelled', async () => (await call('provider-op', 'GET', `/v1/processes/${enc(res.body.id as string)}`)).body.status === 'cancelled');
  });
});

describe('idempotent starts', () => {
  it('when ten identical starts race, then one process exists: one 201, the others 200 with the same id', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, () => call('client-op', 'POST', '/v1/contracts/ctr-martin-2027/processes', onboarding('race-1'))));
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
    expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
    const listed = await call('client-op', 'GET', '/v1/processes?limit=200');
    expect((listed.body.items as Json[]).filter((p) => p.businessKey === 'race-1')).toHaveLength(1);
    const journal = await waitFor('the process to start', async () => {
      const j = await call('client-op', 'GET', `/v1/processes/${enc(results[0]!.body.id as string)}/journal`);
      return (j.body.entries as Json[] | undefined)?.length ? j : undefined;
    });
    expect((journal.body.entries as Json[]).filter((e) => e.event === 'process.started')).toHaveLength(1);
  });

  it('when ten starts with one Idempotency-Key race, then one process exists', async () => {
    const body = onboarding('ignored');
    const { businessKey: _ignored, ...withoutKey } = body;
    const results = await Promise.all(Array.from({ length: 10 }, () => call('client-op', 'POST', '/v1/contracts/ctr-martin-2027/processes', withoutKey, { 'idempotency-key': 'idem-race-1' })));
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.every((r) => r.status === 201 || r.status === 200)).toBe(true);
    // One process, whose business key derives from the caller's key and request: never the bare header.
    const ids = new Set(results.map((r) => r.body.id as string));
    expect(ids.size).toBe(1);
    expect([...ids][0]).toMatch(/^mandate:ctr-martin-2027:employee-onboarding:idem\.[0-9a-f]{40}$/);
  });
});

// A start checks a cached contract row and inserts under a guard that re-reads it: what another
// API node changed must count at once. The rows are changed in SQL, as that other node would.
describe('starts after the contract changed elsewhere', () => {
  const start = (key: string) => call('other-client', 'POST', '/v1/contracts/ctr-fournil-2027/processes', onboarding(key));
  const db = () => world.database.db;

  it('when the contract was terminated behind this node, then the next start is refused and nothing is recorded', async () => {
    expect((await start('elsewhere-1')).status).toBe(201);
    await db().updateTable('contracts').set({ status: 'terminated' }).where('id', '=', 'ctr-fournil-2027').execute();
    const refused = await start('elsewhere-2');
    expect(refused.status).toBe(422);
    expect(refused.body.type).toMatch(/contract-not-active$/);
    const row = await db().selectFrom('processes').select('id').where('business_key', '=', 'elsewhere-2').executeTakeFirst();
    expect(row).toBeUndefined();
    await db().updateTable('contracts').set({ status: 'active' }).where('id', '=', 'ctr-fournil-2027').execute();
    expect((await start('elsewhere-3')).status).toBe(201);
  });

  it('when the contract was amended behind this node, then the next start runs under the new version', async () => {
    expect((await start('elsewhere-4')).body.contractVersion).toBe(1);
    await sql`insert into contract_versions (contract_id, version, document) select contract_id, 2, document from contract_versions where contract_id = 'ctr-fournil-2027' and version = 1`.execute(db());
    await db().updateTable('contracts').set({ current_version: 2 }).where('id', '=', 'ctr-fournil-2027').execute();
    const amended = await start('elsewhere-5');
    expect(amended.status).toBe(201);
    expect(amended.body.contractVersion).toBe(2);
  });
});
