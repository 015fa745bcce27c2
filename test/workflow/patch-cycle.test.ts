// The patch cycle on the real dev server: agents are simulated (test/support/fake-agent.ts),
// windows are given as overrides a few seconds ahead (contract windows are minute-resolution
// calendar specs; their arithmetic is tested in test/unit/change.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { createProcessActivities } from '../../activities/processes';
import { completeTask } from '../../api/services/tasks';
import type { Principal } from '../../db/api-keys';
import { readJournal } from '../../db/journal';
import { getProcess, registerProcess } from '../../db/processes';
import type { JournalRow, TaskRow } from '../../db/schema';
import { listTasksForParty } from '../../db/tasks';
import type { Contract } from '../../domain/contract';
import type { PatchCycleInput } from '../../domain/catalogue';
import type { ProcessStart } from '../../workflows/definitions';
import type { PatchCycleResult, ServerFate } from '../../workflows/patch-cycle';
import { aContract, aParty, CLIENT, PROVIDER, SUBCONTRACTOR } from '../support/builders';
import type { TestDatabase } from '../support/db';
import { startEngineWorld, type EngineWorld } from '../support/engine-world';
import { reportEngineConfig, serveServerAgents, type ServerAgents } from '../support/patch-cycle';
import { waitFor } from '../support/harness';


const byAgent = (party: string, action: string) => ({ R: { party, by: 'agent' as const, action }, A: PROVIDER, pickupWithin: 'PT30S', heartbeatWithin: 'PT30S' });

/** Today ± 1 day as MM-DD in Paris: a freeze the test's windows fall in. */
function freezeAroundToday(): { from: string; to: string } {
  const md = (ms: number) => new Date(ms).toLocaleDateString('en-CA', { timeZone: 'Europe/Paris' }).slice(5);
  return { from: md(Date.now() - 86_400_000), to: md(Date.now() + 86_400_000) };
}

function patchContract(id: string, change: (c: Contract) => void = () => {}): Contract {
  return aContract()
    .with((c) => {
      c.id = id;
      c.parties = [
        aParty({ id: PROVIDER, kind: 'provider', contractedBy: undefined, users: [{ id: 'u-op', roles: ['operator'] }, { id: 'u-boss', roles: ['approver'] }], agents: [{ id: 'ag-acme' }] }),
        aParty({ id: CLIENT, kind: 'client', contractedBy: undefined, users: [{ id: 'u-req', roles: ['operator', 'approver'] }, { id: 'u-cab', roles: ['approver'], team: 'cab' }] }),
        aParty({ id: SUBCONTRACTOR, contractedBy: PROVIDER, users: [], agents: [{ id: 'ag-dc' }] }),
      ];
      c.services = ['mco', 'support'];
      c.changePolicy = { standard: ['monthly-os-patching'], normal: { approver: 'A', expiresAfter: 'P14D' }, emergency: { approver: { party: CLIENT, team: 'cab' }, mayRunInFreeze: true } };
      change(c);
    })
    .withAsset({ id: 'srv-dc', host: SUBCONTRACTOR, stateful: true })
    .withAsset({ id: 'srv-web', host: PROVIDER, stateful: false })
    .withAsset({ id: 'srv-db', host: PROVIDER, stateful: true })
    .withAsset({ id: 'srv-app', host: PROVIDER, stateful: false })
    .withRow('change.patch', { R: { party: PROVIDER, team: 'change', by: 'person' }, A: CLIENT, approval: 'required' })
    .withRow('vm.snapshot', { where: { host: SUBCONTRACTOR }, ...byAgent(SUBCONTRACTOR, 'vm-snapshot') })
    .withRow('vm.snapshot', { where: { host: PROVIDER }, ...byAgent(PROVIDER, 'vm-snapshot') })
    .withRow('vm.patch', byAgent(PROVIDER, 'apply-os-patches'))
    .withRow('vm.health-check', byAgent(PROVIDER, 'health-check'))
    .withRow('vm.restore-snapshot', { where: { host: SUBCONTRACTOR }, ...byAgent(SUBCONTRACTOR, 'vm-restore'), I: [CLIENT], decideIf: 'stateful' })
    .withRow('vm.restore-snapshot', { where: { host: PROVIDER }, ...byAgent(PROVIDER, 'vm-restore'), I: [CLIENT], decideIf: 'stateful' })
    .withRow('change.report', { R: { party: PROVIDER, by: 'engine', action: 'publish-report' }, A: PROVIDER, I: [CLIENT] })
    .withRow('incident.triage', { R: { party: PROVIDER, by: 'person' }, A: PROVIDER })
    .withRow('incident.resolve', { R: { party: PROVIDER, by: 'person' }, A: PROVIDER })
    .withRow('incident.confirm', { R: { party: CLIENT, by: 'person' }, A: CLIENT })
    .build();
}

const plain = patchContract('ctr-patch');
const shortApproval = patchContract('ctr-patch-short', (c) => {
  c.changePolicy.normal.expiresAfter = 'PT1S';
});
const frozen = patchContract('ctr-patch-frozen', (c) => {
  c.freezes = [{ name: 'peak', ...freezeAroundToday(), yearly: true }];
});

const principal = (partyId: string, userId: string, roles: string[], partyKind: Principal['partyKind']): Principal => ({ keyId: `k-${userId}`, partyId, partyKind, userId, roles });
const op = { userId: 'u-op', partyId: PROVIDER };
const clientRequester = { userId: 'u-req', partyId: CLIENT };
const req = principal(CLIENT, 'u-req', ['operator', 'approver'], 'client');
const cab = principal(CLIENT, 'u-cab', ['approver'], 'client');
const opUser = principal(PROVIDER, 'u-op', ['operator'], 'provider');
const boss = principal(PROVIDER, 'u-boss', ['approver'], 'provider');
const fast = { snapshot: 'PT1S', patch: 'PT1S', healthCheck: 'PT1S', restore: 'PT1S' };

let world: EngineWorld;
let database: TestDatabase;
let client: Client;
let taskQueue: string;
let agents: ServerAgents;

beforeAll(async () => {
  world = await startEngineWorld({ testFile: import.meta.url, contract: [plain, shortApproval, frozen], engineConfig: await reportEngineConfig(), activities: createProcessActivities });
  ({ database, client, taskQueue } = world);
  agents = serveServerAgents(database.db, client, { [PROVIDER]: 'ag-acme', [SUBCONTRACTOR]: 'ag-dc' });
});

afterAll(async () => {
  await agents?.stop();
  await world?.stop();
});

let counter = 0;
async function startCycle(contractId: string, requestedBy: { userId: string; partyId: string }, input: Partial<PatchCycleInput> & Pick<PatchCycleInput, 'changeType' | 'assets'>): Promise<WorkflowHandle> {
  const businessKey = `chg-${Date.now().toString(36)}-${++counter}`;
  const id = `mandate:${contractId}:patch-cycle:${businessKey}`;
  await registerProcess(database.db, { id, contractId, contractVersion: 1, processType: 'patch-cycle', businessKey, requestedBy: requestedBy.userId, requestedByParty: requestedBy.partyId });
  const start: ProcessStart = { contractId, version: 1, processType: 'patch-cycle', businessKey, requestedBy, input: { durations: fast, ...input } };
  return client.workflow.start('patchCycle', { workflowId: id, taskQueue, args: [start] });
}

/** A window opening `inMs` from now and lasting a minute. */
function windowIn(inMs: number): { start: string; end: string } {
  return { start: new Date(Date.now() + inMs).toISOString(), end: new Date(Date.now() + inMs + 60_000).toISOString() };
}

const deps = () => world.deps();

async function openTask(partyId: string, processId: string): Promise<TaskRow> {
  return waitFor(`an open task for ${partyId}`, async () => (await listTasksForParty(database.db, { partyId, processId, status: ['open'], limit: 5 })).tasks[0]);
}

const journal = (processId: string): Promise<JournalRow[]> => readJournal(database.db, processId);
const stepsStarted = (rows: JournalRow[]) => rows.filter((e) => e.event === 'step.started').map((e) => `${e.step_key} ${String((e.data as { asset?: string }).asset ?? '')}`.trim());
const reported = (rows: JournalRow[]) => (rows.find((e) => e.event === 'change.reported')?.data as { status: string; servers: ServerFate[] } | undefined);
const firstAt = (rows: JournalRow[], event: string, stepKey?: string) => new Date(rows.find((e) => e.event === event && (stepKey === undefined || e.step_key === stepKey))!.at).getTime();

describe('patch cycle', () => {
  it('when a standard change runs on two servers in batches of one, then each is snapshotted by its host party, patched, checked, and the report goes to I', async () => {
    const window = windowIn(2_000);
    const handle = await startCycle(plain.id, op, { changeType: 'standard', standardChange: 'monthly-os-patching', assets: ['srv-dc', 'srv-web'], batchSize: 1, windowOverride: window });
    const result = (await handle.result()) as PatchCycleResult;
    expect(result).toMatchObject({ changeType: 'standard', status: 'completed', reportPublished: true });
    expect(result.servers.map((s) => [s.asset, s.fate, s.batch])).toEqual([['srv-dc', 'patched', 1], ['srv-web', 'patched', 2]]);
    expect(result.servers.every((s) => s.snapshot?.startsWith('snap-'))).toBe(true);

    const rows = await journal(handle.workflowId);
    expect(rows.find((e) => e.event === 'change.pre-approved')).toMatchObject({ clause: 'changePolicy/standard/0', data: { standardChange: 'monthly-os-patching' } });
    expect(stepsStarted(rows)).toEqual(['vm.snapshot srv-dc', 'vm.patch srv-dc', 'vm.health-check srv-dc', 'vm.snapshot srv-web', 'vm.patch srv-web', 'vm.health-check srv-web', 'change.report']);
    expect(rows.filter((e) => e.event === 'step.started' && e.step_key === 'vm.snapshot').map((e) => e.party_id)).toEqual([SUBCONTRACTOR, PROVIDER]);
    expect(firstAt(rows, 'step.started', 'vm.snapshot')).toBeGreaterThanOrEqual(Date.parse(window.start));
    expect(rows.some((e) => e.event.startsWith('task.'))).toBe(false);
    const outbox = await database.db.selectFrom('outbox').selectAll().where('effect_key', 'like', `${handle.workflowId}:%`).where('event', '=', 'change.report').execute();
    expect(outbox.map((o) => o.party_id)).toEqual([CLIENT]);
    expect((outbox[0]?.payload as { servers: ServerFate[] }).servers.map((s) => s.fate)).toEqual(['patched', 'patched']);
  });

  it('when a normal change is approved by A (not by its requester), then it waits for the window and runs in it', async () => {
    const window = windowIn(8_000);
    const handle = await startCycle(plain.id, clientRequester, { changeType: 'normal', assets: ['srv-web'], windowOverride: window });
    const approval = await openTask(CLIENT, handle.workflowId);
    expect(approval).toMatchObject({ kind: 'approve', step_key: 'change.patch' });
    await expect(completeTask(deps(), req, approval.id, { decision: 'approve' })).rejects.toMatchObject({ status: 422, detail: expect.stringMatching(/four-eyes/) });
    expect((await completeTask(deps(), cab, approval.id, { decision: 'approve', comment: 'CAB ok' })).status).toBe(200);
    const approvedAt = Date.now();
    expect(approvedAt).toBeLessThan(Date.parse(window.start));

    const result = (await handle.result()) as PatchCycleResult;
    expect(result).toMatchObject({ changeType: 'normal', status: 'completed', servers: [{ asset: 'srv-web', fate: 'patched' }] });
    const rows = await journal(handle.workflowId);
    const approved = rows.find((e) => e.event === 'change.approved');
    expect(approved).toMatchObject({ actor: 'user:u-cab', party_id: CLIENT, clause: 'responsibilities/change.patch', data: { assets: ['srv-web'] } });
    expect(Date.parse((approved?.data as { expiresAt: string }).expiresAt) - approvedAt).toBeGreaterThan(13 * 86_400_000);
    expect(firstAt(rows, 'step.started', 'vm.snapshot')).toBeGreaterThanOrEqual(Date.parse(window.start));
  });

  it('when the approval expires before the window opens, then the change stops, journaled, and the report says every server was skipped', async () => {
    const handle = await startCycle(shortApproval.id, clientRequester, { changeType: 'normal', assets: ['srv-web', 'srv-app'], windowOverride: windowIn(8_000) });
    await completeTask(deps(), cab, (await openTask(CLIENT, handle.workflowId)).id, { decision: 'approve' });
    const result = (await handle.result()) as PatchCycleResult;
    expect(result.status).toBe('expired');
    expect(result.servers.map((s) => s.fate)).toEqual(['skipped', 'skipped']);
    const rows = await journal(handle.workflowId);
    expect(rows.find((e) => e.event === 'change.expired')?.data).toMatchObject({ reason: 'expired' });
    expect(stepsStarted(rows)).toEqual(['change.report']);
  });

  it('when a health check fails, then the stateless server is restored at once, the stateful one after a person agrees, an incident is opened and the report tells each fate', async () => {
    agents.unhealthy.add('srv-db');
    const handle = await startCycle(plain.id, op, { changeType: 'standard', standardChange: 'monthly-os-patching', assets: ['srv-db', 'srv-web', 'srv-app'], batchSize: 2, windowOverride: windowIn(1_000) });
    const decision = await openTask(PROVIDER, handle.workflowId);
    expect(decision).toMatchObject({ kind: 'approve', step_key: 'vm.restore-snapshot', title: expect.stringMatching(/srv-db.*lost/) });
    // Newest first: srv-web (stateless) is already restored; srv-db waits for the decision.
    expect(agents.done.filter((j) => j.includes('vm-restore'))).toEqual([`${PROVIDER} vm-restore srv-web`]);
    await expect(completeTask(deps(), opUser, decision.id, { decision: 'approve' })).rejects.toMatchObject({ status: 422 });
    expect((await completeTask(deps(), boss, decision.id, { decision: 'approve', comment: 'restore it' })).status).toBe(200);

    await expect(handle.result()).rejects.toThrow();
    expect((await getProcess(database.db, handle.workflowId))?.status).toBe('failed');
    const rows = await journal(handle.workflowId);
    expect(agents.done.filter((j) => j.includes('vm-restore')).slice(-2)).toEqual([`${PROVIDER} vm-restore srv-web`, `${PROVIDER} vm-restore srv-db`]);
    const registered = rows.filter((e) => e.event === 'compensation.registered').map((e) => e.seq);
    const patches = rows.filter((e) => e.event === 'step.started' && e.step_key === 'vm.patch').map((e) => e.seq);
    expect(registered.map((seq, i) => seq < patches[i]!)).toEqual([true, true]);

    const incident = rows.find((e) => e.event === 'incident.opened');
    expect(incident?.data).toMatchObject({ asset: 'srv-db', title: expect.stringMatching(/health check of srv-db/) });
    const incidentId = (incident?.data as { incident: string }).incident;
    expect((await getProcess(database.db, incidentId))?.process_type).toBe('incident');

    const report = reported(rows);
    expect(report?.status).toBe('failed');
    expect(report?.servers.map((s) => [s.asset, s.fate, s.decidedBy])).toEqual([
      ['srv-db', 'rolled-back', 'u-boss'],
      ['srv-web', 'rolled-back', undefined],
      ['srv-app', 'skipped', undefined],
    ]);
    expect(report?.servers[2]?.reason).toMatch(/stopped after batch 1/);
    expect(stepsStarted(rows).at(-1)).toBe('change.report');
    agents.unhealthy.delete('srv-db');
  });

  it('when an emergency change meets a freeze, then the emergency approver signs it and it runs in the freeze; a standard change there does not run', async () => {
    const emergency = await startCycle(frozen.id, op, { changeType: 'emergency', assets: ['srv-web'], windowOverride: windowIn(1_000) });
    const approval = await openTask(CLIENT, emergency.workflowId);
    expect(approval).toMatchObject({ kind: 'approve', team: 'cab' });
    await completeTask(deps(), cab, approval.id, { decision: 'approve' });
    expect(await emergency.result()).toMatchObject({ changeType: 'emergency', status: 'completed', servers: [{ asset: 'srv-web', fate: 'patched' }] });
    const rows = await journal(emergency.workflowId);
    expect(rows.find((e) => e.event === 'change.approved')?.clause).toBe('changePolicy/emergency');
    expect(rows.find((e) => e.event === 'change.in-freeze')?.data).toMatchObject({ freeze: 'peak' });

    const standard = await startCycle(frozen.id, op, { changeType: 'standard', standardChange: 'monthly-os-patching', assets: ['srv-web'], windowOverride: windowIn(1_000) });
    const result = (await standard.result()) as PatchCycleResult;
    expect(result).toMatchObject({ status: 'frozen', servers: [{ asset: 'srv-web', fate: 'skipped', reason: expect.stringMatching(/freeze peak/) }] });
    expect(stepsStarted(await journal(standard.workflowId))).toEqual(['change.report']);
  });

  it('when a server is not in the perimeter, then the cycle is refused before anything is asked', async () => {
    const handle = await startCycle(plain.id, op, { changeType: 'standard', standardChange: 'monthly-os-patching', assets: ['srv-web', 'srv-nowhere'] });
    await expect(handle.result()).rejects.toThrow();
    const rows = await journal(handle.workflowId);
    expect(rows.map((e) => e.event)).toEqual(['process.started', 'process.failed']);
    expect(JSON.stringify(rows[1]?.data)).toMatch(/srv-nowhere/);
  });
});
