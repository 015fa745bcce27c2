// Every path of runStep on the real dev server, with real workers and real PostgreSQL.
// Deadlines are a few seconds long; assertions wait for states, never for a fixed time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import type { Client } from '@temporalio/client';
import { getTask, listTasksForParty } from '../../db/tasks';
import { readJournal, verifyJournal } from '../../db/journal';
import { getProcess } from '../../db/processes';
import type { Principal } from '../../db/api-keys';
import type { TaskRow } from '../../db/schema';
import { completeTask } from '../../api/services/tasks';
import { cancelProcessSignal } from '../../workflows/definitions';
import { aContract, aParty, CLIENT, PROVIDER, SUBCONTRACTOR } from '../support/builders';
import type { TestDatabase } from '../support/db';
import { startEngineWorld, type EngineWorld } from '../support/engine-world';
import { startProbe, testEngineConfig, waitFor } from '../support/harness';
import type { StepResult } from '../../workflows/step';

const CLIENT_VENDOR = 'pc-vendor';
const requester = { userId: 'u-hr', partyId: CLIENT };

const contract = aContract()
  .with((c) => {
    c.id = 'ctr-steps';
    c.parties = [
      aParty({ id: PROVIDER, kind: 'provider', contractedBy: undefined, users: [{ id: 'u-op', roles: ['operator'] }, { id: 'u-prov-boss', roles: ['approver'] }] }),
      aParty({ id: CLIENT, kind: 'client', contractedBy: undefined, users: [{ id: 'u-hr', roles: ['operator', 'approver'] }, { id: 'u-cab', roles: ['approver'] }, { id: 'u-viewer', roles: ['viewer'] }] }),
      aParty({ id: SUBCONTRACTOR, contractedBy: PROVIDER, users: [{ id: 'u-dc', roles: ['operator'] }] }),
      aParty({ id: CLIENT_VENDOR, contractedBy: CLIENT, users: [{ id: 'u-ship', roles: ['operator'] }] }),
    ];
  })
  .withAsset({ id: 'srv-a', host: SUBCONTRACTOR, stateful: true })
  .withAsset({ id: 'srv-b', host: PROVIDER })
  .withRow('iam.create', { R: { party: PROVIDER, by: 'engine', action: 'create-directory-account' }, A: PROVIDER, I: [CLIENT] })
  .withRow('iam.broken', { R: { party: PROVIDER, by: 'engine', action: 'no-such-action' }, A: PROVIDER })
  .withRow('iam.grant', { R: { party: PROVIDER, by: 'engine', action: 'grant-group' }, A: CLIENT, approval: 'required' })
  .withRow('iam.grant-timed', { R: { party: PROVIDER, by: 'engine', action: 'grant-group' }, A: CLIENT, approval: 'required', hardDeadline: 'PT3S' })
  .withRow('hr.request', { R: { party: CLIENT, by: 'person', team: 'hr' }, A: CLIENT })
  .withRow('ship.laptop', { R: { party: CLIENT_VENDOR, by: 'person', team: 'dispatch' }, A: CLIENT, I: [PROVIDER], due: 'PT2S' })
  .withRow('ship.hard', { R: { party: CLIENT_VENDOR, by: 'person' }, A: CLIENT, hardDeadline: 'PT3S' })
  .withRow('change.plan', { R: { party: PROVIDER, by: 'person' }, A: PROVIDER, C: [SUBCONTRACTOR], consultWithin: 'PT3S' })
  .withRow('vm.check', { where: { host: SUBCONTRACTOR }, R: { party: SUBCONTRACTOR, by: 'person' }, A: PROVIDER })
  .withRow('vm.check', { where: { host: PROVIDER }, R: { party: PROVIDER, by: 'person' }, A: PROVIDER })
  .build();

const principal = (partyId: string, userId: string, roles: string[]): Principal => ({ keyId: `k-${userId}`, partyId, partyKind: 'client', userId, roles });
const vendor = principal(CLIENT_VENDOR, 'u-ship', ['operator']);
const op = principal(PROVIDER, 'u-op', ['operator']);
const hr = principal(CLIENT, 'u-hr', ['operator', 'approver']);
const cab = principal(CLIENT, 'u-cab', ['approver']);

let world: EngineWorld;
let database: TestDatabase;
let client: Client;
let taskQueue: string;
let directoryFile: string;

beforeAll(async () => {
  const engine = await testEngineConfig();
  directoryFile = engine.directoryFile;
  world = await startEngineWorld({ testFile: import.meta.url, contract, engineConfig: engine.config });
  ({ database, client, taskQueue } = world);
});

afterAll(() => world?.stop());

const deps = () => world.deps();

async function openTaskOf(partyId: string, processId: string): Promise<TaskRow> {
  return waitFor(`an open task for ${partyId}`, async () => (await listTasksForParty(database.db, { partyId, processId, status: ['open'], limit: 10 })).tasks[0]);
}

async function describeStatus(processId: string): Promise<string> {
  return (await client.workflow.getHandle(processId).describe()).status.name;
}

async function events(processId: string): Promise<string[]> {
  return (await readJournal(database.db, processId)).map((e) => e.event);
}

describe('runStep', () => {
  it('when R is an engine action, then it runs once, I is informed and the journal chain verifies', async () => {
    const handle = await startProbe(client, database.db, { taskQueue, contractId: contract.id, requestedBy: requester, steps: [{ key: 'iam.create', params: { username: 'ada.lovelace', displayName: 'Ada Lovelace', department: 'R&D' } }] });
    const [result] = (await handle.result()) as StepResult[];
    expect(result).toMatchObject({ outcome: 'done', output: { created: true, account: { username: 'ada.lovelace' } } });
    const directory = JSON.parse(await readFile(directoryFile, 'utf8')) as { accounts: Record<string, unknown> };
    expect(Object.keys(directory.accounts)).toContain('ada.lovelace');
    const journal = await readJournal(database.db, handle.workflowId);
    expect(journal.map((e) => e.event)).toEqual(['process.started', 'step.started', 'step.executed', 'step.completed', 'process.completed']);
    expect(journal.find((e) => e.event === 'step.executed')).toMatchObject({ party_id: PROVIDER, actor: 'engine:create-directory-account', clause: 'responsibilities/iam.create' });
    expect(await verifyJournal(database.db, handle.workflowId)).toEqual({ ok: true, length: 5 });
    const outbox = await database.db.selectFrom('outbox').selectAll().where('effect_key', 'like', `${handle.workflowId}:%`).execute();
    expect(outbox.filter((o) => o.event !== 'process.journal-head').map((o) => [o.party_id, o.event])).toEqual([[CLIENT, 'step.completed']]);
    // Every party with a role in the process keeps a witness of the journal's head.
    expect(outbox.filter((o) => o.event === 'process.journal-head').map((o) => o.party_id).sort()).toEqual([CLIENT, PROVIDER].sort());
    expect((await getProcess(database.db, handle.workflowId))?.status).toBe('completed');
  });

  it('when the action is not in the engine configuration, then the step fails and the journal says why', async () => {
    const handle = await startProbe(client, database.db, { taskQueue, contractId: contract.id, requestedBy: requester, steps: [{ key: 'iam.broken' }] });
    const [result] = (await handle.result()) as StepResult[];
    expect(result?.outcome).toBe('failed');
    expect(result?.reason).toMatch(/no-such-action/);
    const failed = (await readJournal(database.db, handle.workflowId)).find((e) => e.event === 'step.failed');
    expect(JSON.stringify(failed?.data)).toMatch(/not defined/);
  });

  it('when R is a person of a vendor, then only that party completes the task and the payload is checked', async () => {
    const handle = await startProbe(client, database.db, { taskQueue, contractId: contract.id, requestedBy: requester, steps: [{ key: 'hr.request', doneByRequester: true }, { key: 'ship.laptop', requiredFields: ['trackingNumber'] }] });
    const task = await openTaskOf(CLIENT_VENDOR, handle.workflowId);
    expect(task).toMatchObject({ kind: 'execute', team: 'dispatch', status: 'open' });
    await expect(completeTask(deps(), op, task.id, { payload: { trackingNumber: 'X1' } })).rejects.toMatchObject({ status: 404 });
    await expect(completeTask(deps(), vendor, task.id, { payload: {} })).rejects.toMatchObject({ status: 400, detail: expect.stringMatching(/payload.trackingNumber/) });
    expect((await getTask(database.db, task.id))?.status).toBe('open');
    const done = await completeTask(deps(), vendor, task.id, { payload: { trackingNumber: 'TRK-42' } });
    expect(done.status).toBe(200);
    expect(done.task.status).toBe('done');
    const results = (await handle.result()) as StepResult[];
    expect(results.map((r) => r.outcome)).toEqual(['done', 'done']);
    expect(results[1]).toMatchObject({ completedBy: 'u-ship', output: { trackingNumber: 'TRK-42' } });
    const journal = await readJournal(database.db, handle.workflowId);
    expect(journal.find((e) => e.event === 'step.executed' && e.step_key === 'hr.request')?.actor).toBe('user:u-hr');
    expect(journal.find((e) => e.event === 'task.completed')).toMatchObject({ party_id: CLIENT_VENDOR, actor: 'user:u-ship' });
  });

  it('when the task is past due, then A is notified once and the step still completes', async () => {
    const handle = await startProbe(client, database.db, { taskQueue, contractId: contract.id, requestedBy: requester, steps: [{ key: 'ship.laptop' }] });
    const task = await openTaskOf(CLIENT_VENDOR, handle.workflowId);
    await waitFor('the overdue notice', async () => (await events(handle.workflowId)).includes('step.overdue'));
    const notices = await database.db.selectFrom('outbox').selectAll().where('effect_key', 'like', `${handle.workflowId}:%`).where('event', '=', 'step.overdue').execute();
    expect(notices.map((n) => n.party_id)).toEqual([CLIENT]);
    await completeTask(deps(), vendor, task.id, {});
    expect(((await handle.result()) as StepResult[])[0]?.outcome).toBe('done');
  });

  it('when nobody completes the task by the hard deadline, then it expires and the step says so', async () => {
    const handle = await startProbe(client, database.db, { taskQueue, contractId: contract.id, requestedBy: requester, steps: [{ key: 'ship.hard' }] });
    const task = await openTaskOf(CLIENT_VENDOR, handle.workflowId);
    const [result] = (await handle.result()) as StepResult[];
    expect(result?.outcome).toBe('expired');
    expect((await getTask(database.db, task.id))?.status).toBe('expired');
    await expect(completeTask(deps(), vendor, task.id, {})).rejects.toMatchObject({ status: 409 });
  });

  it('when approval is required, then the requester cannot approve (four-eyes) and another approver can', async () => {
    const handle = await startProbe(client, database.db, { taskQueue, contractId: contract.id, requestedBy: requester, steps: [{ key: 'iam.create', params: { username: 'bob.b', displayName: 'Bob', department: 'Ops' } }, { key: 'iam.grant', params: { username: 'bob.b', groups: ['admins'] } }] });
    const approval = await openTaskOf(CLIENT, handle.workflowId);
    expect(approval.kind).toBe('approve');
    await expect(completeTask(deps(), hr, approval.id, { decision: 'approve' })).rejects.toMatchObject({ status: 422, detail: expect.stringMatching(/four-eyes/) });
    expect((await getTask(database.db, approval.id))?.status).toBe('open');
    const approved = await completeTask(deps(), cab, approval.id, { decision: 'approve', comment: 'ok for admins' });
    expect(approved.status).toBe(200);
    const results = (await handle.result()) as StepResult[];
    expect(results[1]).toMatchObject({ outcome: 'done', output: { granted: ['admins'] } });
    expect(await events(handle.workflowId)).toContain('task.approved');
  });

  it('when A rejects, then R never executes', async () => {
    const handle = await startProbe(client, database.db, { taskQueue, contractId: contract.id, requestedBy: requester, steps: [{ key: 'iam.grant', params: { username: 'nobody.here', groups: ['admins'] } }] });
    const approval = await openTaskOf(CLIENT, handle.workflowId);
    await completeTask(deps(), cab, approval.id, { decision: 'reject', comment: 'no' });
    const [result] = (await handle.result()) as StepResult[];
    expect(result).toMatchObject({ outcome: 'rejected', reason: 'rejected by u-cab' });
    expect(await events(handle.workflowId)).not.toContain('step.executed');
  });

  it('when an approval times out, then it counts as a rejection', async () => {
    const handle = await startProbe(client, database.db, { taskQueue, contractId: contract.id, requestedBy: requester, steps: [{ key: 'iam.grant-timed', params: { username: 'x.y', groups: ['g'] } }] });
    const approval = await openTaskOf(CLIENT, handle.workflowId);
    const [result] = (await handle.result()) as StepResult[];
    expect(result).toMatchObject({ outcome: 'rejected', reason: expect.stringMatching(/timed out/) });
    expect((await getTask(database.db, approval.id))?.status).toBe('expired');
  });

  it('when C answers, then the answer reaches the step; when C is silent, then the step goes on after the deadline', async () => {
    const answered = await startProbe(client, database.db, { taskQueue, contractId: contract.id, requestedBy: requester, steps: [{ key: 'change.plan' }] });
    const consult = await openTaskOf(SUBCONTRACTOR, answered.workflowId);
    expect(consult.kind).toBe('consult');
    await completeTask(deps(), principal(SUBCONTRACTOR, 'u-dc', ['operator']), consult.id, { comment: 'fine by us' });
    const execute = await openTaskOf(PROVIDER, answered.workflowId);
    await completeTask(deps(), op, execute.id, {});
    expect(((await answered.result()) as StepResult[])[0]?.consulted).toEqual([{ partyId: SUBCONTRACTOR, answer: 'fine by us' }]);

    const silent = await startProbe(client, database.db, { taskQueue, contractId: contract.id, requestedBy: requester, steps: [{ key: 'change.plan' }] });
    const unanswered = await openTaskOf(SUBCONTRACTOR, silent.workflowId);
    const execute2 = await waitFor('the execute task after silence', async () => (await listTasksForParty(database.db, { partyId: PROVIDER, processId: silent.workflowId, status: ['open'], limit: 5 })).tasks[0]);
    expect((await getTask(database.db, unanswered.id))?.status).toBe('expired');
    expect(await events(silent.workflowId)).toContain('consult.unanswered');
    await completeTask(deps(), op, execute2.id, {});
    expect(((await silent.result()) as StepResult[])[0]).toMatchObject({ outcome: 'done', consulted: [{ partyId: SUBCONTRACTOR }] });
  });

  it('when rows are scoped by host, then each asset routes to its own party', async () => {
    const handle = await startProbe(client, database.db, { taskQueue, contractId: contract.id, requestedBy: requester, steps: [{ key: 'vm.check', asset: 'srv-a' }, { key: 'vm.check', asset: 'srv-b' }] });
    const first = await openTaskOf(SUBCONTRACTOR, handle.workflowId);
    expect((await listTasksForParty(database.db, { partyId: PROVIDER, processId: handle.workflowId, status: ['open'], limit: 5 })).tasks).toEqual([]);
    await completeTask(deps(), principal(SUBCONTRACTOR, 'u-dc', ['operator']), first.id, {});
    const second = await openTaskOf(PROVIDER, handle.workflowId);
    await completeTask(deps(), op, second.id, {});
    const journal = await readJournal(database.db, handle.workflowId);
    expect(journal.filter((e) => e.event === 'step.started').map((e) => e.clause)).toEqual(['responsibilities/vm.check/0', 'responsibilities/vm.check/1']);
    await handle.result();
  });

  it('when the process is cancelled with a reason, then open tasks are cancelled and the journal keeps who and why', async () => {
    const handle = await startProbe(client, database.db, { taskQueue, contractId: contract.id, requestedBy: requester, steps: [{ key: 'ship.hard' }] });
    const task = await openTaskOf(CLIENT_VENDOR, handle.workflowId);
    await handle.signal(cancelProcessSignal, { reason: 'employee withdrew', userId: 'u-hr', partyId: CLIENT });
    await handle.cancel();
    await expect(handle.result()).rejects.toThrow();
    expect((await getTask(database.db, task.id))?.status).toBe('cancelled');
    expect((await getProcess(database.db, handle.workflowId))?.status).toBe('cancelled');
    const journal = await readJournal(database.db, handle.workflowId);
    expect(journal.slice(-2).map((e) => [e.event, e.actor])).toEqual([['process.cancel-requested', 'user:u-hr'], ['process.cancelled', null]]);
    expect((await describeStatus(handle.workflowId))).toBe('CANCELLED');
  });

  it('when fifty people complete one task at once, then one succeeds, the others get 409 and the effect happens once', async () => {
    const handle = await startProbe(client, database.db, { taskQueue, contractId: contract.id, requestedBy: requester, steps: [{ key: 'ship.laptop' }] });
    const task = await openTaskOf(CLIENT_VENDOR, handle.workflowId);
    const attempts = await Promise.allSettled(Array.from({ length: 50 }, () => completeTask(deps(), vendor, task.id, {})));
    const ok = attempts.filter((a) => a.status === 'fulfilled');
    const statuses = attempts.map((a) => (a.status === 'rejected' ? (a.reason as { status?: number }).status : 200));
    expect(ok).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(49);
    await handle.result();
    expect((await events(handle.workflowId)).filter((e) => e === 'task.completed')).toHaveLength(1);
  });
});
