// Histories stay bounded (docs/ARCHITECTURE.md "Bounded histories"): an incident flooded by a
// flapping monitor while it waits for triage continues as new before its history reaches the
// budget, takes the open task back, and still completes; the journal stays one chain.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import { createProcessActivities } from '../../activities/processes';
import { listTasksForParty } from '../../db/tasks';
import { readJournal, verifyJournal } from '../../db/journal';
import { getProcess, registerProcess } from '../../db/processes';
import type { Principal } from '../../db/api-keys';
import type { TaskRow } from '../../db/schema';
import { completeTask, type CompletionRequest } from '../../api/services/tasks';
import type { IncidentInput } from '../../domain/catalogue';
import { incidentAlertSignal, incidentStateQuery, type ProcessStart } from '../../workflows/definitions';
import { HISTORY_BUDGET } from '../../workflows/kernel/run';
import { aContract, aParty, CLIENT, PROVIDER } from '../support/builders';
import type { TestDatabase } from '../support/db';
import { startEngineWorld, type EngineWorld } from '../support/engine-world';
import { waitFor } from '../support/harness';

const contract = aContract()
  .with((c) => {
    c.id = 'ctr-budget';
    c.services = ['support'];
    c.parties = [
      aParty({ id: PROVIDER, kind: 'provider', contractedBy: undefined, users: [{ id: 'u-desk', roles: ['operator'], team: 'service-desk' }, { id: 'u-n2', roles: ['operator'], team: 'n2' }] }),
      aParty({ id: CLIENT, kind: 'client', contractedBy: undefined, users: [{ id: 'u-it', roles: ['operator'], team: 'it-contact' }] }),
    ];
    c.scope.assets = [{ id: 'srv-app', kind: 'vm', host: PROVIDER }];
    c.calendars = { always: { timezone: 'Europe/Paris', hours: '24x7' } };
    c.slas = { support: { calendar: 'always', P2: { response: 'PT1H', resolution: 'PT4H' }, exclusions: [] } };
  })
  .withRow('incident.triage', { R: { party: PROVIDER, team: 'service-desk', by: 'person' }, A: PROVIDER })
  .withRow('incident.resolve', { R: { party: PROVIDER, team: 'n2', by: 'person' }, A: PROVIDER, I: [CLIENT] })
  .withRow('incident.client-info', { R: { party: CLIENT, team: 'it-contact', by: 'person' }, A: CLIENT })
  .withRow('incident.confirm', { R: { party: CLIENT, team: 'it-contact', by: 'person' }, A: CLIENT, hardDeadline: 'PT1H', calendar: 'always' })
  .build();

const principal = (partyId: string, userId: string): Principal => ({ keyId: `k-${userId}`, partyId, partyKind: partyId === CLIENT ? 'client' : 'provider', userId, roles: ['operator'] });
const requester = { userId: 'u-it', partyId: CLIENT };

let world: EngineWorld;
let database: TestDatabase;
let client: Client;

beforeAll(async () => {
  world = await startEngineWorld({ testFile: import.meta.url, contract, engineConfig: { actions: {}, configDir: '.' }, activities: createProcessActivities });
  ({ database, client } = world);
});

afterAll(() => world?.stop());

const openTask = (who: Principal, processId: string, stepKey: string): Promise<TaskRow> =>
  waitFor(`${stepKey} for ${who.partyId}`, async () => (await listTasksForParty(database.db, { partyId: who.partyId, processId, status: ['open'], limit: 10 })).tasks.find((t) => t.step_key === stepKey));

async function complete(who: Principal, processId: string, stepKey: string, request: CompletionRequest): Promise<TaskRow> {
  const task = await openTask(who, processId, stepKey);
  const done = await completeTask(world.deps(), who, task.id, request);
  expect(done.status).toBe(200);
  return done.task;
}

/** The runs of a workflow id, oldest first, with their history lengths and how each ended. */
async function runsOf(workflowId: string): Promise<{ runId: string; events: number; closedAs: string }[]> {
  const runs: { runId: string; events: number; closedAs: string }[] = [];
  for await (const execution of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
    const history = await client.workflow.getHandle(workflowId, execution.runId).fetchHistory();
    const last = history.events?.at(-1);
    runs.push({ runId: execution.runId, events: history.events?.length ?? 0, closedAs: proto.api.enums.v1.EventType[last?.eventType ?? 0] ?? '' });
  }
  return runs.reverse();
}

describe('history budget', () => {
  it('when a flapping monitor floods an incident waiting for triage, then it continues as new under the budget, keeps its task and completes', async () => {
    const businessKey = `flap-${Date.now().toString(36)}`;
    const id = `mandate:${contract.id}:incident:${businessKey}`;
    await registerProcess(database.db, { id, contractId: contract.id, contractVersion: 1, processType: 'incident', businessKey, requestedBy: requester.userId, requestedByParty: requester.partyId });
    const start: ProcessStart<IncidentInput> = {
      contractId: contract.id,
      version: 1,
      processType: 'incident',
      businessKey,
      requestedBy: requester,
      input: { title: 'ERP down', description: '', source: { kind: 'monitoring', ref: 'erp-ping' }, asset: 'srv-app' },
    };
    const alert = (n: number) => ({ alertKey: 'erp-ping', title: 'ERP down', receivedAt: new Date(Date.now() + n).toISOString(), via: 'signature' });
    const handle = await client.workflow.signalWithStart('incident', { workflowId: id, taskQueue: world.taskQueue, args: [start], signal: incidentAlertSignal, signalArgs: [alert(0)] });
    const triage = await openTask(principal(PROVIDER, 'u-desk'), id, 'incident.triage');

    // Repeats arrive one after another, as a flapping monitor sends them, until the history
    // passes the budget; then one now and then, until the run has handed over.
    let sent = 1;
    const first = await handle.describe();
    const continued = async () => {
      const now = await handle.describe();
      return { handedOver: now.runId !== first.runId, events: now.historyLength };
    };
    for (let state = await continued(); !state.handedOver; state = await continued()) {
      expect(sent, 'the run never continued as new').toBeLessThan(10_000);
      if (state.events < HISTORY_BUDGET.events) {
        for (let i = 0; i < 20; i++) await handle.signal(incidentAlertSignal, alert(sent++));
      } else {
        await handle.signal(incidentAlertSignal, alert(sent++));
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    const afterHandOver = sent;
    await waitFor('the alerts to be counted', async () => ((await handle.query(incidentStateQuery)).alerts.count === afterHandOver ? true : undefined));

    // The open task is the same row, completed in the new run.
    const triaged = await complete(principal(PROVIDER, 'u-desk'), id, 'incident.triage', { payload: { priority: 'P2' } });
    expect(triaged.id).toBe(triage.id);
    await complete(principal(PROVIDER, 'u-n2'), id, 'incident.resolve', { payload: { resolution: 'restarted the ERP' } });
    await complete(principal(CLIENT, 'u-it'), id, 'incident.confirm', { payload: { confirmed: true } });
    const result = await handle.result();
    expect(result).toMatchObject({ priority: 'P2', closed: 'confirmed', alerts: afterHandOver });

    // Visibility is eventually consistent: wait until it lists every run, closed.
    const runs = await waitFor('every run listed', async () => {
      const listed = await runsOf(id);
      return listed.length >= 2 && listed.at(-1)!.closedAs === 'EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED' ? listed : undefined;
    });
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(runs[0]!.closedAs).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW');
    // The run decides at the budget; signals still arriving during the hand-over add their own
    // events, but every run stays under the server's own suggestion (4,096 events).
    expect(runs[0]!.events).toBeGreaterThanOrEqual(HISTORY_BUDGET.events);
    for (const run of runs) expect(run.events).toBeLessThan(4_096);

    const journal = await readJournal(database.db, id);
    expect(journal.map((e) => e.seq)).toEqual(journal.map((_, i) => i + 1));
    expect(await verifyJournal(database.db, id)).toMatchObject({ ok: true });
    const events = journal.map((e) => e.event);
    expect(events.filter((e) => e === 'process.started')).toHaveLength(1);
    expect(events.filter((e) => e === 'process.continued').length).toBe(runs.length - 1);
    // Repeats are folded (one entry, then at most one per 30 s, the rest at the next step):
    // every alert is counted once, in few entries.
    const alerts = journal.filter((e) => e.event.startsWith('incident.alert-'));
    const counted = alerts.reduce((n, e) => n + (e.event === 'incident.alert-received' ? 1 : Number((e.data as { repeats?: number }).repeats)), 0);
    expect(counted).toBe(afterHandOver);
    expect(alerts.length).toBeLessThan(afterHandOver / 10);
    expect(events.filter((e) => e === 'step.started' && true)).toHaveLength(3);
    expect((await getProcess(database.db, id))?.status).toBe('completed');
  }, 300_000);
});
