// The incident process on the real dev server: 24/7 calendars and targets of a few seconds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { createProcessActivities } from '../../activities/processes';
import { listTasksForParty } from '../../db/tasks';
import { readJournal } from '../../db/journal';
import { getProcess, registerProcess } from '../../db/processes';
import { listSlaRecords } from '../../db/sla-records';
import type { Principal } from '../../db/api-keys';
import type { TaskRow } from '../../db/schema';
import { completeTask, type CompletionRequest } from '../../api/services/tasks';
import type { IncidentInput } from '../../domain/catalogue';
import { incidentStateQuery, processStateQuery, type ProcessStart } from '../../workflows/definitions';
import type { IncidentResult } from '../../workflows/incident';
import { aContract, aParty, CLIENT, PROVIDER } from '../support/builders';
import type { TestDatabase } from '../support/db';
import { startEngineWorld, type EngineWorld } from '../support/engine-world';
import { waitFor } from '../support/harness';

const contract = aContract()
  .with((c) => {
    c.id = 'ctr-incident';
    c.services = ['support'];
    c.parties = [
      aParty({ id: PROVIDER, kind: 'provider', contractedBy: undefined, users: [{ id: 'u-desk', roles: ['operator'], team: 'service-desk' }, { id: 'u-n2', roles: ['operator'], team: 'n2' }] }),
      aParty({ id: CLIENT, kind: 'client', contractedBy: undefined, users: [{ id: 'u-it', roles: ['operator'], team: 'it-contact' }] }),
    ];
    c.scope.assets = [{ id: 'srv-app', kind: 'vm', host: PROVIDER }, { id: 'srv-quiet', kind: 'vm', host: PROVIDER }];
    c.calendars = { always: { timezone: 'Europe/Paris', hours: '24x7' } };
    c.slas = {
      support: {
        calendar: 'always',
        P1: { response: 'PT2S', resolution: 'PT3S' },
        P2: { response: 'PT1M', resolution: 'PT1M' },
        exclusions: [],
      },
    };
  })
  .withRow('incident.triage', { R: { party: PROVIDER, team: 'service-desk', by: 'person' }, A: PROVIDER })
  .withRow('incident.resolve', { R: { party: PROVIDER, team: 'n2', by: 'person' }, A: PROVIDER, I: [CLIENT] })
  .withRow('incident.client-info', { R: { party: CLIENT, team: 'it-contact', by: 'person' }, A: CLIENT })
  .withRow('incident.confirm', { R: { party: CLIENT, team: 'it-contact', by: 'person' }, A: CLIENT, hardDeadline: 'PT1M', calendar: 'always' })
  // The client never answers about this server: its confirmation times out quickly.
  .withRow('incident.confirm', { where: { asset: 'srv-quiet' }, R: { party: CLIENT, team: 'it-contact', by: 'person' }, A: CLIENT, hardDeadline: 'PT2S', calendar: 'always' })
  .build();

const principal = (partyId: string, userId: string): Principal => ({ keyId: `k-${userId}`, partyId, partyKind: partyId === CLIENT ? 'client' : 'provider', userId, roles: ['operator'] });
const desk = principal(PROVIDER, 'u-desk');
const n2 = principal(PROVIDER, 'u-n2');
const clientIt = principal(CLIENT, 'u-it');
const requester = { userId: 'u-it', partyId: CLIENT };

let world: EngineWorld;
let database: TestDatabase;
let client: Client;
let taskQueue: string;

beforeAll(async () => {
  world = await startEngineWorld({ testFile: import.meta.url, contract, engineConfig: { actions: {}, configDir: '.' }, activities: createProcessActivities });
  ({ database, client, taskQueue } = world);
});

afterAll(() => world?.stop());

let counter = 0;
/** Registers and starts an incident the way the API does for a client. */
async function openByClient(input: Partial<IncidentInput> = {}): Promise<WorkflowHandle> {
  const businessKey = `inc-${Date.now().toString(36)}-${++counter}`;
  const id = `mandate:${contract.id}:incident:${businessKey}`;
  await registerProcess(database.db, { id, contractId: contract.id, contractVersion: 1, processType: 'incident', businessKey, requestedBy: requester.userId, requestedByParty: requester.partyId });
  const start: ProcessStart<IncidentInput> = {
    contractId: contract.id,
    version: 1,
    processType: 'incident',
    businessKey,
    requestedBy: requester,
    input: { title: 'The ERP is slow', description: '', source: { kind: 'client' }, ...input },
  };
  return client.workflow.start('incident', { workflowId: id, taskQueue, args: [start] });
}

const deps = () => world.deps();
const openTask = (who: Principal, processId: string, stepKey: string): Promise<TaskRow> =>
  waitFor(`${stepKey} for ${who.partyId}`, async () => (await listTasksForParty(database.db, { partyId: who.partyId, processId, status: ['open'], limit: 10 })).tasks.find((t) => t.step_key === stepKey));
async function complete(who: Principal, processId: string, stepKey: string, request: CompletionRequest): Promise<void> {
  const task = await openTask(who, processId, stepKey);
  const done = await completeTask(deps(), who, task.id, request);
  expect(done.status).toBe(200);
}
const events = async (processId: string) => (await readJournal(database.db, processId)).map((e) => e.event);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('incident', () => {
  it('when the client opens it, triage sets P2, n2 resolves and the client confirms, then it closes with both SLA clocks met', async () => {
    const handle = await openByClient({ priority: 'P3', asset: 'srv-app' });
    await complete(desk, handle.workflowId, 'incident.triage', { payload: { priority: 'P2' } });
    await complete(n2, handle.workflowId, 'incident.resolve', { payload: { resolution: 'index rebuilt' } });
    await complete(clientIt, handle.workflowId, 'incident.confirm', { payload: { confirmed: true } });
    const result: IncidentResult = await handle.result();
    expect(result).toMatchObject({ priority: 'P2', closed: 'confirmed', resolution: 'index rebuilt', reopened: 0 });
    const records = await listSlaRecords(database.db, { processId: handle.workflowId });
    expect(records.map((r) => [r.clock, r.priority, r.target, r.breached]).sort()).toEqual([
      ['resolution', 'P2', 'PT1M', false],
      ['response', 'P2', 'PT1M', false],
    ]);
    expect(records.every((r) => r.stopped_at !== null)).toBe(true);
    const journal = await events(handle.workflowId);
    expect(journal).toEqual(expect.arrayContaining(['sla.met', 'sla.started', 'sla.paused', 'sla.stopped', 'incident.confirmed', 'process.completed']));
    expect((await getProcess(database.db, handle.workflowId))?.status).toBe('completed');
  });

  it('when triage gives no valid priority, then the completion is refused with 400 naming the field and the task stays open', async () => {
    const handle = await openByClient();
    const task = await openTask(desk, handle.workflowId, 'incident.triage');
    await expect(completeTask(deps(), desk, task.id, { payload: { priority: 'P9' } })).rejects.toMatchObject({ status: 400 });
    await complete(desk, handle.workflowId, 'incident.triage', { payload: { priority: 'P2' } });
    await handle.cancel();
  });

  it('when n2 waits on the client, then the resolution clock stops until the client answers', async () => {
    const handle = await openByClient();
    await complete(desk, handle.workflowId, 'incident.triage', { payload: { priority: 'P2' } });
    await complete(n2, handle.workflowId, 'incident.resolve', { payload: { waitingOn: 'client', question: 'Which shop?' } });
    await openTask(clientIt, handle.workflowId, 'incident.client-info');
    const paused = await waitFor('the paused clock', async () => {
      const sla = (await handle.query(processStateQuery)).sla;
      return sla?.pausedSince ? sla : undefined;
    });
    expect(paused.pauseReason).toBe(`waiting on ${CLIENT}`);
    expect((await handle.query(incidentStateQuery)).waitingOn).toBe(CLIENT);
    await sleep(1500);
    await complete(clientIt, handle.workflowId, 'incident.client-info', { payload: { answer: 'Lyon 3' } });
    const resolveAgain = await openTask(n2, handle.workflowId, 'incident.resolve');
    expect(resolveAgain.payload).toMatchObject({ clientAnswer: 'Lyon 3' });
    const running = (await handle.query(processStateQuery)).sla!;
    expect(running.pausedSince).toBeUndefined();
    expect(running.runningSince).toBeDefined();
    await complete(n2, handle.workflowId, 'incident.resolve', { payload: { resolution: 'fixed' } });
    await complete(clientIt, handle.workflowId, 'incident.confirm', { payload: { confirmed: true } });
    await handle.result();
    expect(await events(handle.workflowId)).toEqual(expect.arrayContaining(['sla.paused', 'sla.resumed']));
  });

  it('when the client refuses the resolution, then the incident is reopened and goes back to n2', async () => {
    const handle = await openByClient();
    await complete(desk, handle.workflowId, 'incident.triage', { payload: { priority: 'P2' } });
    await complete(n2, handle.workflowId, 'incident.resolve', { payload: { resolution: 'restarted' } });
    await complete(clientIt, handle.workflowId, 'incident.confirm', { payload: { confirmed: false, comment: 'still slow' } });
    const again = await openTask(n2, handle.workflowId, 'incident.resolve');
    expect(again.payload).toMatchObject({ refusedBecause: 'still slow' });
    await complete(n2, handle.workflowId, 'incident.resolve', { payload: { resolution: 'disk replaced', priority: 'P1', reason: 'wider impact' } });
    await complete(clientIt, handle.workflowId, 'incident.confirm', { payload: { confirmed: true } });
    expect(await handle.result()).toMatchObject({ closed: 'confirmed', reopened: 1, priority: 'P1' });
    const journal = await readJournal(database.db, handle.workflowId);
    expect(journal.find((e) => e.event === 'incident.reopened')?.data).toMatchObject({ reason: 'still slow', reopened: 1 });
    expect(journal.find((e) => e.event === 'incident.reclassified')?.data).toMatchObject({ from: 'P2', to: 'P1' });
  });

  it('when the client does not confirm by the hard deadline, then the incident closes automatically', async () => {
    const handle = await openByClient({ asset: 'srv-quiet' });
    await complete(desk, handle.workflowId, 'incident.triage', { payload: { priority: 'P2' } });
    await complete(n2, handle.workflowId, 'incident.resolve', { payload: { resolution: 'cleaned up' } });
    expect(await handle.result()).toMatchObject({ closed: 'auto-closed' });
    const journal = await events(handle.workflowId);
    expect(journal).toEqual(expect.arrayContaining(['task.expired', 'incident.auto-closed', 'process.completed']));
  });

  it('when the provider misses the P1 targets, then each breach is an SLA record', async () => {
    const handle = await openByClient({ priority: 'P1' });
    const triage = await openTask(desk, handle.workflowId, 'incident.triage');
    await sleep(2500); // past the 2 s response target
    expect((await completeTask(deps(), desk, triage.id, { payload: { priority: 'P1' } })).status).toBe(200);
    await openTask(n2, handle.workflowId, 'incident.resolve');
    const breach = await waitFor('the resolution breach', async () => (await listSlaRecords(database.db, { processId: handle.workflowId })).find((r) => r.clock === 'resolution' && r.breached));
    expect(breach).toMatchObject({ priority: 'P1', target: 'PT3S' });
    await complete(n2, handle.workflowId, 'incident.resolve', { payload: { resolution: 'failover' } });
    await complete(clientIt, handle.workflowId, 'incident.confirm', { payload: { confirmed: true } });
    await handle.result();
    const records = await listSlaRecords(database.db, { processId: handle.workflowId });
    expect(records.map((r) => [r.clock, r.breached]).sort()).toEqual([['resolution', true], ['response', true]]);
    expect((await events(handle.workflowId)).filter((e) => e === 'sla.breached')).toHaveLength(2);
  });
});

describe('openIncident (engine activity)', () => {
  it('when a process opens the same incident twice, even at once, then one incident runs', async () => {
    const { openIncident } = createProcessActivities({ db: database.db, client, taskQueue });
    const request = {
      contractId: contract.id,
      contractVersion: 1,
      openedBy: { processId: `mandate:${contract.id}:backup:2027-02-01`, requestedBy: { userId: 'u-desk', partyId: PROVIDER } },
      key: 'verify:srv-app',
      title: 'Backup of srv-app does not verify',
      priority: 'P2' as const,
      asset: 'srv-app',
    };
    const [a, b] = await Promise.all([openIncident(request), openIncident(request)]);
    expect(a.processId).toBe(`mandate:${contract.id}:incident:backup:2027-02-01:verify:srv-app`);
    expect(b.processId).toBe(a.processId);
    expect([a.created, b.created].sort()).toEqual([false, true]);
    const again = await openIncident(request);
    expect(again).toMatchObject({ processId: a.processId, created: false, status: 'running' });
    const triage = await openTask(desk, a.processId, 'incident.triage');
    expect(triage.payload).toMatchObject({ source: { kind: 'process', ref: request.openedBy.processId }, reportedPriority: 'P2' });
    expect((await events(a.processId)).filter((e) => e === 'process.started')).toHaveLength(1);
    await client.workflow.getHandle(a.processId).cancel();
  });
});
