// Issue 12, points 7 to 11, each tried the way an attacker would: through the API with real
// keys, and straight at Temporal with the update or signal the API would have sent. A real
// worker, a real dev server, real PostgreSQL and real HTTP.
import { createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { createProcessActivities } from '../../activities/processes';
import { createApp } from '../../api/app';
import { issueApiKey } from '../../db/api-keys';
import { readJournal } from '../../db/journal';
import { getTask } from '../../db/tasks';
import { listProcesses } from '../../db/processes';
import { parseContract, type Contract } from '../../domain/contract';
import { deleteContractSchedules, pauseSchedule, syncContractSchedules } from '../../temporal/schedules';
import { assignTaskUpdate, completeTaskUpdate, type TaskAssignment, type TaskCompletion } from '../../workflows/definitions';
import { startEngineWorld, type EngineWorld } from '../support/engine-world';
import { silentLog, startProbe, waitFor } from '../support/harness';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON answers of many shapes

const CONTRACT = 'ctr-martin-2027';
const SECRET = 'monitoring-secret-of-martin-rules-0123456789';

let world: EngineWorld;
let server: Server;
let secondNode: Server;
let base: string;
let baseOfSecondNode: string;
const keys = new Map<string, string>();
let contract: Contract;

/**
 * The example contract, with two edits that make the attacks reachable: the provider (A) signs
 * normal changes off itself (so a provider approver could approve a change it asked for), and
 * the monthly patching schedule runs a normal change (so its run asks for that approval).
 */
async function rulesContract(): Promise<Contract> {
  const text = (await readFile('examples/contract.yaml', 'utf8'))
    .replace('change.patch:          { R: { party: nuvola, team: change, by: person }, A: martin, C: [dc-lyon], approval: required }', 'change.patch:          { R: { party: nuvola, team: change, by: person }, A: nuvola, approval: required }')
    .replace('input: { changeType: standard, standardChange: monthly-os-patching, assets:', 'input: { changeType: normal, assets:');
  if (!text.includes('A: nuvola, approval: required') || !text.includes('changeType: normal, assets:')) throw new Error('the example contract changed: update rulesContract()');
  const parsed = parseContract(parseYaml(text));
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return parsed.contract;
}

function listen(app: ReturnType<typeof createApp>): Promise<Server> {
  return new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
}

beforeAll(async () => {
  contract = await rulesContract();
  world = await startEngineWorld({ testFile: import.meta.url, contract, activities: createProcessActivities });
  const db = world.db;
  const users: [string, string, string, string[]][] = [
    ['claire', 'nuvola', 'u-claire', ['operator', 'approver']],
    ['marc', 'nuvola', 'u-marc', ['operator']],
    ['ines', 'nuvola', 'u-ines', ['approver']],
    ['lea', 'martin', 'u-hr-lea', ['operator']],
    ['paul', 'martin', 'u-dsi-paul', ['approver']],
    ['sam', 'pc-logistique', 'u-sam', ['operator']],
  ];
  for (const [name, partyId, userId, roles] of users) keys.set(name, (await issueApiKey(db, { partyId, userId, roles })).key);
  // Two API nodes on one database: a nonce one of them took is taken for the other too.
  const app = () =>
    createApp({ db, temporal: { client: world.client, taskQueue: world.taskQueue, close: async () => {} }, log: silentLog, monitoringSecrets: (id) => (id === CONTRACT ? [SECRET] : []) });
  server = await listen(app());
  secondNode = await listen(app());
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  baseOfSecondNode = `http://127.0.0.1:${(secondNode.address() as AddressInfo).port}`;
});

afterAll(async () => {
  if (world) await deleteContractSchedules({ client: world.client, contract }).catch(() => undefined);
  await new Promise((r) => server?.close(r));
  await new Promise((r) => secondNode?.close(r));
  await world?.stop();
});

async function call(who: string | undefined, method: string, url: string, body?: unknown, opts: { base?: string; headers?: Record<string, string>; raw?: string } = {}) {
  const key = who === undefined ? undefined : keys.get(who);
  if (who !== undefined && !key) throw new Error(`no key for ${who}`);
  const res = await fetch(`${opts.base ?? base}${url}`, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body === undefined && opts.raw === undefined ? {} : { 'content-type': 'application/json' }), ...opts.headers },
    body: opts.raw ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: (text ? JSON.parse(text) : {}) as Json };
}

const enc = encodeURIComponent;
const paths = (body: Json) => ((body.errors ?? []) as { path: string }[]).map((e) => e.path);

function openTask(who: string, processId: string, stepKey: string): Promise<Json> {
  return waitFor(`${stepKey} in the inbox of ${who}`, async () => {
    const res = await call(who, 'GET', `/v1/tasks?processId=${enc(processId)}`);
    return (res.body.items as Json[] | undefined)?.find((t) => t.stepKey === stepKey && t.status === 'open');
  });
}

/** What someone who reaches Temporal sends instead of the API: the update, naming whoever it likes. */
async function refusalOf(processId: string, run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) return err.cause?.message ?? err.message;
    throw err;
  }
  throw new Error(`the update to ${processId} was accepted`);
}

const completeDirectly = (processId: string, completion: TaskCompletion) =>
  refusalOf(processId, () => world.client.workflow.getHandle(processId).executeUpdate(completeTaskUpdate, { updateId: `attack-${completion.taskId}-${Math.random()}`, args: [completion] }));
const assignDirectly = (processId: string, assignment: TaskAssignment) =>
  refusalOf(processId, () => world.client.workflow.getHandle(processId).executeUpdate(assignTaskUpdate, { updateId: `attack-assign-${Math.random()}`, args: [assignment] }));

const journalOf = (processId: string) => readJournal(world.db, processId);

describe('7. exceptions to the contract are explicit', () => {
  const cycle = (businessKey: string, input: Json) => ({ type: 'patch-cycle', businessKey, input: { assets: ['srv-erp-01'], ...input } });
  const soon = () => ({ start: new Date(Date.now() + 60_000).toISOString(), end: new Date(Date.now() + 4 * 3_600_000).toISOString() });

  it("when the client asks for a windowOverride or durations in a start body, then 403 names the field and nothing starts", async () => {
    const override = await call('lea', 'POST', `/v1/contracts/${CONTRACT}/processes`, cycle('client-override', { changeType: 'emergency', windowOverride: soon(), exceptionReason: 'we want it now' }));
    expect(override.status).toBe(403);
    expect(override.type).toContain('application/problem+json');
    expect(paths(override.body)).toEqual(['body.input.windowOverride']);
    const durations = await call('lea', 'POST', `/v1/contracts/${CONTRACT}/processes`, cycle('client-durations', { changeType: 'normal', durations: { patch: 'PT1M' } }));
    expect(durations.status).toBe(403);
    expect(paths(durations.body)).toEqual(['body.input.durations']);
    const started = (await listProcesses(world.db, { contractId: CONTRACT, processType: 'patch-cycle' })).map((p) => p.business_key);
    expect(started).not.toContain('client-override');
    expect(started).not.toContain('client-durations');
  });

  it('when a provider operator asks for one outside an emergency change or without a reason, then 400 names the fields', async () => {
    const normal = await call('marc', 'POST', `/v1/contracts/${CONTRACT}/processes`, cycle('normal-override', { changeType: 'normal', windowOverride: soon() }));
    expect(normal.status).toBe(400);
    expect(paths(normal.body).sort()).toEqual(['body.input.exceptionReason', 'body.input.windowOverride']);
    const reasonAlone = await call('marc', 'POST', `/v1/contracts/${CONTRACT}/processes`, cycle('reason-alone', { changeType: 'normal', exceptionReason: 'because' }));
    expect(paths(reasonAlone.body)).toEqual(['body.input.exceptionReason']);
  });

  it("when a provider operator decides an emergency change with its reason, then it is journaled as an exception and the policy's emergency approver signs it off", async () => {
    const window = soon();
    const res = await call('marc', 'POST', `/v1/contracts/${CONTRACT}/processes`, cycle('emergency-override', { changeType: 'emergency', windowOverride: window, durations: { patch: 'PT20M' }, exceptionReason: 'CVE-2026-0001 exploited in the wild' }));
    expect(res.status).toBe(201);
    const id = res.body.id as string;
    const exception = await waitFor('the exception in the journal', async () => (await journalOf(id)).find((e) => e.event === 'change.exception'));
    expect(exception).toMatchObject({ actor: 'user:u-marc', party_id: 'nuvola', clause: 'changePolicy/emergency', data: { changeType: 'emergency', windowOverride: window, durations: { patch: 'PT20M' }, reason: 'CVE-2026-0001 exploited in the wild' } });
    // changePolicy.emergency.approver: the client's CAB, who sees what it approves.
    const approval = await openTask('paul', id, 'change.patch');
    expect(approval).toMatchObject({ kind: 'approve', partyId: 'martin', team: 'cab', details: { exception: { reason: 'CVE-2026-0001 exploited in the wild' } } });
    await world.client.workflow.getHandle(id).cancel();
  });
});

describe('8. assignment means something', () => {
  let incident: string;
  let triage: Json;

  beforeAll(async () => {
    const res = await call('marc', 'POST', `/v1/contracts/${CONTRACT}/processes`, { type: 'incident', businessKey: 'rules-assigned', input: { title: 'ERP slow', source: { kind: 'client' } } });
    if (res.status !== 201) throw new Error(JSON.stringify(res.body));
    incident = res.body.id as string;
    triage = await openTask('marc', incident, 'incident.triage');
  });

  it('when a task is assigned to Claire, then Marc cannot complete it, neither through the API nor straight through Temporal', async () => {
    const assigned = await call('claire', 'POST', `/v1/tasks/${triage.id}/reassign`, { userId: 'u-claire' });
    expect(assigned.status).toBe(200);
    expect(assigned.body.assigneeUserId).toBe('u-claire');
    const byMarc = await call('marc', 'POST', `/v1/tasks/${triage.id}/complete`, { payload: { priority: 'P2' } });
    expect(byMarc.status).toBe(403);
    expect(byMarc.body.detail).toMatch(/assigned to u-claire/);
    expect((await call('marc', 'GET', `/v1/tasks/${triage.id}`)).body.status).toBe('open');
    // The database says nothing to Temporal: the run itself knows whom the task is assigned to.
    const refusal = await completeDirectly(incident, { taskId: triage.id as string, userId: 'u-marc', partyId: 'nuvola', roles: ['operator'], payload: { priority: 'P1' } });
    expect(refusal).toMatch(/assigned to u-claire/);
  });

  it('when Marc reassigns it to himself first, then the reassignment is journaled and his completion counts', async () => {
    expect((await call('marc', 'POST', `/v1/tasks/${triage.id}/reassign`, { userId: 'u-marc' })).status).toBe(200);
    const done = await call('marc', 'POST', `/v1/tasks/${triage.id}/complete`, { payload: { priority: 'P2' } });
    expect(done.status).toBe(200);
    const entries = await waitFor('the reassignments and the completion', async () => {
      const j = await journalOf(incident);
      return j.some((e) => e.event === 'task.completed' && e.step_key === 'incident.triage') ? j : undefined;
    });
    const reassigned = entries.filter((e) => e.event === 'task.reassigned').map((e) => ({ actor: e.actor, data: e.data }));
    expect(reassigned).toEqual([
      { actor: 'user:u-claire', data: { taskId: triage.id, kind: 'execute', from: null, to: 'u-claire' } },
      { actor: 'user:u-marc', data: { taskId: triage.id, kind: 'execute', from: 'u-claire', to: 'u-marc' } },
    ]);
    expect(entries.find((e) => e.event === 'task.completed' && e.step_key === 'incident.triage')?.actor).toBe('user:u-marc');
    await world.client.workflow.getHandle(incident).cancel();
  });
});

describe('9. evidence is what the step asked for', () => {
  it('when a completion carries a field outside the step’s schema, then 400 names it, the task stays open and nothing is journaled', async () => {
    // The probe's schema is a plain z.object: it would strip an unknown field; the run refuses it.
    const probe = await startProbe(world.client, world.db, { taskQueue: world.taskQueue, contractId: CONTRACT, requestedBy: { userId: 'u-hr-lea', partyId: 'martin' }, steps: [{ key: 'equipment.ship-laptop', requiredFields: ['trackingNumber'] }] });
    const ship = await openTask('sam', probe.workflowId, 'equipment.ship-laptop');
    const extra = await call('sam', 'POST', `/v1/tasks/${ship.id}/complete`, { payload: { trackingNumber: 'COLIS-1', approvedBy: 'u-dsi-paul' } });
    expect(extra.status).toBe(400);
    expect(extra.type).toContain('application/problem+json');
    expect(paths(extra.body)).toEqual(['body.payload.approvedBy']);
    expect((await call('sam', 'GET', `/v1/tasks/${ship.id}`)).body.status).toBe('open');
    const direct = await completeDirectly(probe.workflowId, { taskId: ship.id as string, userId: 'u-sam', partyId: 'pc-logistique', roles: ['operator'], payload: { trackingNumber: 'COLIS-1', note: 'x' } });
    expect(direct).toMatch(/payload\.note/);
    expect((await call('sam', 'POST', `/v1/tasks/${ship.id}/complete`, { payload: { trackingNumber: 'COLIS-1' } })).status).toBe(200);
    const completed = await waitFor('the completion', async () => (await journalOf(probe.workflowId)).find((e) => e.event === 'task.completed'));
    expect(completed.data as Json).toMatchObject({ payload: { trackingNumber: 'COLIS-1' } });
    expect(JSON.stringify(completed.data)).not.toMatch(/approvedBy|note/);
  });

  it('when a task without a schema is given arbitrary fields or a long comment, then they are refused; a comment alone is accepted', async () => {
    const probe = await startProbe(world.client, world.db, { taskQueue: world.taskQueue, contractId: CONTRACT, requestedBy: { userId: 'u-dsi-paul', partyId: 'martin' }, steps: [{ key: 'hr.request-account' }] });
    const task = await openTask('lea', probe.workflowId, 'hr.request-account');
    const fields = await call('lea', 'POST', `/v1/tasks/${task.id}/complete`, { comment: 'done', payload: { salary: 99_000, grantedBy: 'u-dsi-paul' } });
    expect(fields.status).toBe(400);
    expect(paths(fields.body).sort()).toEqual(['body.payload.grantedBy', 'body.payload.salary']);
    expect((await call('lea', 'POST', `/v1/tasks/${task.id}/complete`, { comment: 'x'.repeat(2001) })).status).toBe(400);
    // Straight through Temporal, where the API's bound on the comment is not in the way.
    expect(await completeDirectly(probe.workflowId, { taskId: task.id as string, userId: 'u-hr-lea', partyId: 'martin', roles: ['operator'], comment: 'x'.repeat(5000) })).toMatch(/comment: at most 2000/);
    expect(await completeDirectly(probe.workflowId, { taskId: task.id as string, userId: 'u-hr-lea', partyId: 'martin', roles: ['operator'], payload: { evidence: 'forged' } })).toMatch(/payload\.evidence/);
    expect((await call('lea', 'POST', `/v1/tasks/${task.id}/complete`, { comment: 'account requested' })).status).toBe(200);
    const completed = await waitFor('the completion', async () => (await journalOf(probe.workflowId)).find((e) => e.event === 'task.completed'));
    expect(completed.data as Json).toMatchObject({ comment: 'account requested' });
    expect((completed.data as Json).payload ?? {}).toEqual({});
  });
});

describe('10. signed alerts are accepted once', () => {
  const sign = (body: string, t = Math.floor(Date.now() / 1000)) => `t=${t},v1=${createHmac('sha256', SECRET).update(`${t}.${body}`).digest('hex')}`;
  const postAlert = (raw: string, signature: string, at = base) => call(undefined, 'POST', `/v1/contracts/${CONTRACT}/monitoring/alerts`, undefined, { base: at, raw, headers: { 'mandate-signature': signature } });

  it('when a signed alert is replayed within its window, on the same or another API node, then 409 problem+json, journaled, not counted', async () => {
    const raw = JSON.stringify({ alertKey: 'disk-full:srv-file-01', title: 'Disk full', priority: 'P3', asset: 'srv-file-01' });
    const signature = sign(raw);
    const first = await postAlert(raw, signature);
    expect(first.status).toBe(201);
    const id = first.body.id as string;
    const replay = await postAlert(raw, signature);
    expect(replay.status).toBe(409);
    expect(replay.type).toContain('application/problem+json');
    expect(replay.body).toMatchObject({ status: 409, replay: true, processId: id });
    expect((await postAlert(raw, signature, baseOfSecondNode)).status).toBe(409);
    const replays = await waitFor('two replays journaled', async () => {
      const found = (await journalOf(id)).filter((e) => e.event === 'security.alert-replayed');
      return found.length === 2 ? found : undefined;
    });
    expect(replays[0]).toMatchObject({ actor: 'signature', data: { alertKey: 'disk-full:srv-file-01', nonce: expect.stringMatching(/^sig:[0-9a-f]{64}$/) } });
    expect((await journalOf(id)).filter((e) => e.event === 'incident.alert-repeated')).toEqual([]);

    // The same alert id signed again at another second is the same alert: refused as well.
    const withId = JSON.stringify({ alertKey: 'disk-full:srv-file-01', title: 'Disk full', id: 'zabbix-4711' });
    expect((await postAlert(withId, sign(withId))).status).toBe(200);
    expect((await postAlert(withId, sign(withId, Math.floor(Date.now() / 1000) - 5))).status).toBe(409);
    // A new alert (new id) of the same key is a repeat, not a replay.
    const next = JSON.stringify({ alertKey: 'disk-full:srv-file-01', title: 'Disk full', id: 'zabbix-4712' });
    expect((await postAlert(next, sign(next))).status).toBe(200);
    await world.client.workflow.getHandle(id).cancel();
  });
});

describe('11. a person who triggers a schedule is its requester', () => {
  it('when Claire triggers the patching schedule, then the run is hers: the journal names her and she cannot approve the change she asked for', async () => {
    // Only the schedule the test triggers, paused: its calendar never starts a run of its own here.
    const patching = { ...contract, schedules: { 'monthly-patching': contract.schedules['monthly-patching']! } };
    await syncContractSchedules({ client: world.client, taskQueue: world.taskQueue, contract: patching, contractVersion: 1, log: silentLog });
    await pauseSchedule(world.client, CONTRACT, 'monthly-patching', 'rules test: triggered by hand only');
    const triggered = await call('claire', 'POST', `/v1/contracts/${CONTRACT}/schedules/monthly-patching/trigger`);
    expect(triggered.status).toBe(202);
    const run = await waitFor('the triggered run', async () => (await listProcesses(world.db, { contractId: CONTRACT, processType: 'patch-cycle' })).find((p) => p.business_key.startsWith('monthly-patching')));
    expect({ requestedBy: run.requested_by, party: run.requested_by_party }).toEqual({ requestedBy: 'u-claire', party: 'nuvola' });
    const approval = await openTask('claire', run.id, 'change.patch');
    expect(approval).toMatchObject({ kind: 'approve', partyId: 'nuvola' });
    expect((await getTask(world.db, approval.id as string))?.requested_by).toBe('u-claire');
    const started = (await journalOf(run.id)).find((e) => e.event === 'process.started');
    expect(started?.actor).toBe('user:u-claire');
    // Four-eyes: Claire holds the approver role, but she asked for the change.
    const own = await call('claire', 'POST', `/v1/tasks/${approval.id}/complete`, { decision: 'approve' });
    expect(own.status).toBe(422);
    expect(own.body.detail).toMatch(/four-eyes/);
    // Nor can the approval be handed to her.
    const handed = await call('marc', 'POST', `/v1/tasks/${approval.id}/reassign`, { userId: 'u-claire' });
    expect(handed.status).toBe(422);
    expect(paths(handed.body)).toEqual(['body.userId']);
    expect(await assignDirectly(run.id, { taskId: approval.id as string, assigneeUserId: 'u-claire', userId: 'u-marc', partyId: 'nuvola' })).toMatch(/four-eyes/);
    expect((await call('ines', 'POST', `/v1/tasks/${approval.id}/complete`, { decision: 'approve' })).status).toBe(200);
    const approved = await waitFor('the approval', async () => (await journalOf(run.id)).find((e) => e.event === 'change.approved'));
    expect(approved.actor).toBe('user:u-ines');
    await world.client.workflow.getHandle(run.id).cancel();
  });
});
