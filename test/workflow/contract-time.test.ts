// SLA clocks and escalation on the real dev server: 24/7 calendars and targets of a few
// seconds (business-hours arithmetic is proven by the pure calendar tests).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import { listTasksForParty } from '../../db/tasks';
import { readJournal } from '../../db/journal';
import { listSlaRecords } from '../../db/sla-records';
import type { Principal } from '../../db/api-keys';
import type { TaskRow } from '../../db/schema';
import { completeTask } from '../../api/services/tasks';
import { processStateQuery } from '../../workflows/definitions';
import { aContract, aParty, CLIENT, PROVIDER, SUBCONTRACTOR } from '../support/builders';
import type { TestDatabase } from '../support/db';
import { startEngineWorld, type EngineWorld } from '../support/engine-world';
import { startProbe, waitFor } from '../support/harness';

const requester = { userId: 'u-hr', partyId: CLIENT };
const contract = aContract()
  .with((c) => {
    c.id = 'ctr-time';
    c.parties = [
      aParty({ id: PROVIDER, kind: 'provider', contractedBy: undefined, users: [{ id: 'u-op', roles: ['operator'] }] }),
      aParty({ id: CLIENT, kind: 'client', contractedBy: undefined, users: [{ id: 'u-hr', roles: ['operator'] }, { id: 'u-cab', roles: ['approver'] }] }),
      aParty({ id: SUBCONTRACTOR, contractedBy: PROVIDER, users: [{ id: 'u-dc', roles: ['operator'] }] }),
    ];
    c.calendars = { always: { timezone: 'Europe/Paris', hours: '24x7' } };
    c.escalation = { [SUBCONTRACTOR]: [{ level: 1, team: 'noc', after: 'PT1S' }, { level: 2, role: 'manager', after: 'PT2S' }] };
  })
  .withRow('client.answer', { R: { party: CLIENT, by: 'person' }, A: CLIENT })
  .withRow('provider.fix', { R: { party: PROVIDER, by: 'person' }, A: PROVIDER })
  .withRow('dc.fix', { R: { party: SUBCONTRACTOR, by: 'person', team: 'ops' }, A: PROVIDER, due: 'PT1S', calendar: 'always' })
  .build();

const principal = (partyId: string, userId: string, roles: string[]): Principal => ({ keyId: `k-${userId}`, partyId, partyKind: 'client', userId, roles });

let world: EngineWorld;
let database: TestDatabase;
let client: Client;
let taskQueue: string;

beforeAll(async () => {
  world = await startEngineWorld({ testFile: import.meta.url, contract });
  ({ database, client, taskQueue } = world);
});

afterAll(() => world?.stop());

const deps = () => world.deps();
const openTaskOf = (partyId: string, processId: string): Promise<TaskRow> =>
  waitFor(`an open task for ${partyId}`, async () => (await listTasksForParty(database.db, { partyId, processId, status: ['open'], limit: 10 })).tasks[0]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('SLA clocks', () => {
  it('when the work waits on the client, then the clock stops and the deadline moves by that time', async () => {
    const handle = await startProbe(client, database.db, {
      taskQueue, contractId: contract.id, requestedBy: requester,
      steps: [{ key: 'client.answer' }, { key: 'provider.fix' }],
      clock: { target: 'PT8S', calendar: 'always', priority: 'P2' },
    });
    const clientTask = await openTaskOf(CLIENT, handle.workflowId);
    const paused = await waitFor('the paused clock', async () => {
      const state = await handle.query(processStateQuery);
      return state.sla?.pausedSince ? state.sla : undefined;
    });
    expect(paused.pauseReason).toBe(`waiting on ${CLIENT}`);
    expect(paused.deadlineAt).toBeUndefined();
    await sleep(4000); // the client takes its time: none of it counts
    await completeTask(deps(), principal(CLIENT, 'u-hr', ['operator']), clientTask.id, {});
    const providerTask = await openTaskOf(PROVIDER, handle.workflowId);
    const resumed = (await handle.query(processStateQuery)).sla!;
    expect(resumed.runningSince).toBeDefined();
    // Resumed deadline = resume instant + remaining business time.
    const remaining = resumed.targetMs - resumed.accumulatedMs;
    expect(Date.parse(resumed.deadlineAt!)).toBeGreaterThanOrEqual(Date.parse(resumed.runningSince!) + remaining - 1000);
    expect(resumed.accumulatedMs).toBeLessThan(3000);
    await completeTask(deps(), principal(PROVIDER, 'u-op', ['operator']), providerTask.id, {});
    await handle.result();
    const [record] = await listSlaRecords(database.db, { processId: handle.workflowId });
    expect(record).toMatchObject({ clock: 'resolution', priority: 'P2', breached: false, target: 'PT8S' });
    expect(Number(record!.elapsed_ms)).toBeLessThan(8000);
    const events = (await readJournal(database.db, handle.workflowId)).map((e) => e.event);
    expect(events).toEqual(expect.arrayContaining(['sla.started', 'sla.paused', 'sla.resumed', 'sla.stopped']));
  });

  it('when the provider holds the work past the target, then the breach is recorded once', async () => {
    const handle = await startProbe(client, database.db, {
      taskQueue, contractId: contract.id, requestedBy: requester,
      steps: [{ key: 'provider.fix' }],
      clock: { target: 'PT2S', calendar: 'always', priority: 'P1' },
    });
    const task = await openTaskOf(PROVIDER, handle.workflowId);
    await waitFor('the breach', async () => (await listSlaRecords(database.db, { processId: handle.workflowId }))[0]);
    await completeTask(deps(), principal(PROVIDER, 'u-op', ['operator']), task.id, {});
    await handle.result();
    const records = await listSlaRecords(database.db, { processId: handle.workflowId });
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ breached: true, priority: 'P1', penalties_apply: true });
    expect(Number(records[0]!.elapsed_ms)).toBeGreaterThanOrEqual(2000);
    expect((await readJournal(database.db, handle.workflowId)).filter((e) => e.event === 'sla.breached')).toHaveLength(1);
  });

  it("when a provider's subcontractor holds the work, then the provider's clock keeps running", async () => {
    const handle = await startProbe(client, database.db, {
      taskQueue, contractId: contract.id, requestedBy: requester,
      steps: [{ key: 'dc.fix' }],
      clock: { target: 'PT1M', calendar: 'always' },
    });
    const task = await openTaskOf(SUBCONTRACTOR, handle.workflowId);
    expect((await handle.query(processStateQuery)).sla?.pausedSince).toBeUndefined();
    await completeTask(deps(), principal(SUBCONTRACTOR, 'u-dc', ['operator']), task.id, {});
    await handle.result();
  });
});

describe('escalation', () => {
  it('when a step is late, then A is told and the holder escalates level by level along the matrix', async () => {
    const handle = await startProbe(client, database.db, { taskQueue, contractId: contract.id, requestedBy: requester, steps: [{ key: 'dc.fix' }] });
    const task = await openTaskOf(SUBCONTRACTOR, handle.workflowId);
    await waitFor('the second escalation level', async () => (await readJournal(database.db, handle.workflowId)).some((e) => e.event === 'step.escalated' && (e.data as { level?: number }).level === 2), 15_000);
    await completeTask(deps(), principal(SUBCONTRACTOR, 'u-dc', ['operator']), task.id, {});
    await handle.result();
    const journal = await readJournal(database.db, handle.workflowId);
    const late = journal.filter((e) => e.event === 'step.overdue' || e.event === 'step.escalated').map((e) => [e.event, e.party_id, (e.data as { level?: number; team?: string; role?: string }).team ?? (e.data as { role?: string }).role ?? null]);
    expect(late).toEqual([
      ['step.overdue', SUBCONTRACTOR, null],
      ['step.escalated', SUBCONTRACTOR, 'noc'],
      ['step.escalated', SUBCONTRACTOR, 'manager'],
    ]);
    const notices = await database.db.selectFrom('outbox').select(['party_id', 'event']).where('effect_key', 'like', `${handle.workflowId}:%`).orderBy('id').execute();
    // The journal-head witnesses sent at the end are the signed-acts test's (test/api/signed-acts.test.ts).
    const told = notices.filter((n) => n.event !== 'process.journal-head');
    expect(told.map((n) => `${n.event}→${n.party_id}`)).toEqual([`step.overdue→${PROVIDER}`, `step.escalated→${SUBCONTRACTOR}`, `step.escalated→${SUBCONTRACTOR}`]);
  });
});
