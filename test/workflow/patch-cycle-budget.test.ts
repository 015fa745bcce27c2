// Histories stay bounded for the patch cycle too (docs/ARCHITECTURE.md "Bounded histories"): a
// cycle of hundreds of servers hands over to a new run at a server step boundary before its
// history reaches the budget, goes on where it stood, and every server is snapshotted, patched
// and checked exactly once. A failed batch is rolled back across a hand-over, the stateful
// server's decision asked once. Agents are simulated (test/support/fake-agent.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import { createProcessActivities } from '../../activities/processes';
import { completeTask } from '../../api/services/tasks';
import type { Principal } from '../../db/api-keys';
import { readJournal, verifyJournal } from '../../db/journal';
import { getProcess, registerProcess } from '../../db/processes';
import { listTasksForParty } from '../../db/tasks';
import type { PatchCycleInput } from '../../domain/catalogue';
import type { Contract } from '../../domain/contract';
import type { ProcessStart } from '../../workflows/definitions';
import { HISTORY_BUDGET } from '../../workflows/kernel/run';
import type { PatchCycleResult } from '../../workflows/patch-cycle';
import { aContract, aParty, CLIENT, PROVIDER } from '../support/builders';
import type { TestDatabase } from '../support/db';
import { startEngineWorld, type EngineWorld } from '../support/engine-world';
import { waitFor } from '../support/harness';
import { reportEngineConfig, serveServerAgents, type ServerAgents } from '../support/patch-cycle';

const SERVERS = 200;
const servers = Array.from({ length: SERVERS }, (_, i) => `srv-${String(i + 1).padStart(3, '0')}`);
const byAgent = (action: string) => ({ R: { party: PROVIDER, by: 'agent' as const, action }, A: PROVIDER, pickupWithin: 'PT30S', heartbeatWithin: 'PT30S' });

const contract: Contract = (() => {
  let b = aContract().with((c) => {
    c.id = 'ctr-patch-budget';
    c.parties = [
      aParty({ id: PROVIDER, kind: 'provider', contractedBy: undefined, users: [{ id: 'u-op', roles: ['operator'] }, { id: 'u-boss', roles: ['approver'] }], agents: [{ id: 'ag-acme' }] }),
      aParty({ id: CLIENT, kind: 'client', contractedBy: undefined, users: [{ id: 'u-req', roles: ['operator', 'approver'] }] }),
    ];
    c.services = ['mco', 'support'];
    c.changePolicy = { standard: ['monthly-os-patching'], normal: { approver: 'A', expiresAfter: 'P14D' }, emergency: { approver: { party: PROVIDER }, mayRunInFreeze: true } };
  });
  // The last servers are stateful: rolling them back loses data, so a person decides first.
  for (const id of servers) b = b.withAsset({ id, host: PROVIDER, stateful: id >= 'srv-195' });
  return b
    .withRow('change.patch', { R: { party: PROVIDER, by: 'person' }, A: PROVIDER })
    .withRow('vm.snapshot', byAgent('vm-snapshot'))
    .withRow('vm.patch', byAgent('apply-os-patches'))
    .withRow('vm.health-check', byAgent('health-check'))
    .withRow('vm.restore-snapshot', { ...byAgent('vm-restore'), decideIf: 'stateful' })
    .withRow('change.report', { R: { party: PROVIDER, by: 'engine', action: 'publish-report' }, A: PROVIDER, I: [CLIENT] })
    .withRow('incident.triage', { R: { party: PROVIDER, by: 'person' }, A: PROVIDER })
    .withRow('incident.resolve', { R: { party: PROVIDER, by: 'person' }, A: PROVIDER })
    .withRow('incident.confirm', { R: { party: CLIENT, by: 'person' }, A: CLIENT })
    .build();
})();

const op = { userId: 'u-op', partyId: PROVIDER };
const boss: Principal = { keyId: 'k-boss', partyId: PROVIDER, partyKind: 'provider', userId: 'u-boss', roles: ['approver'] };
const fast = { snapshot: 'PT1S', patch: 'PT1S', healthCheck: 'PT1S', restore: 'PT1S' };

let world: EngineWorld;
let database: TestDatabase;
let client: Client;
let agents: ServerAgents;

beforeAll(async () => {
  world = await startEngineWorld({ testFile: import.meta.url, contract, engineConfig: await reportEngineConfig(), activities: createProcessActivities });
  ({ database, client } = world);
  agents = serveServerAgents(database.db, client, { [PROVIDER]: 'ag-acme' });
});

afterAll(async () => {
  await agents?.stop();
  await world?.stop();
});

async function startCycle(name: string, input: Pick<PatchCycleInput, 'assets' | 'batchSize'>): Promise<string> {
  const businessKey = `${name}-${Date.now().toString(36)}`;
  const id = `mandate:${contract.id}:patch-cycle:${businessKey}`;
  await registerProcess(database.db, { id, contractId: contract.id, contractVersion: 1, processType: 'patch-cycle', businessKey, requestedBy: op.userId, requestedByParty: op.partyId });
  const window = { start: new Date(Date.now() + 1_000).toISOString(), end: new Date(Date.now() + 6 * 3_600_000).toISOString() };
  const start: ProcessStart = { contractId: contract.id, version: 1, processType: 'patch-cycle', businessKey, requestedBy: op, input: { changeType: 'standard', standardChange: 'monthly-os-patching', durations: fast, windowOverride: window, ...input } };
  await client.workflow.start('patchCycle', { workflowId: id, taskQueue: world.taskQueue, args: [start] });
  return id;
}

/** The runs of a workflow id, oldest first, with their history lengths and how each ended. */
async function runsOf(workflowId: string): Promise<{ events: number; closedAs: string }[]> {
  const runs: { events: number; closedAs: string }[] = [];
  for await (const execution of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
    const history = await client.workflow.getHandle(workflowId, execution.runId).fetchHistory();
    const last = history.events?.at(-1);
    runs.push({ events: history.events?.length ?? 0, closedAs: proto.api.enums.v1.EventType[last?.eventType ?? 0] ?? '' });
  }
  return runs.reverse();
}

const settledRuns = (id: string) =>
  waitFor('every run listed and the last one closed', async () => {
    const listed = await runsOf(id);
    const last = listed.at(-1)?.closedAs ?? '';
    return listed.length >= 2 && /COMPLETED|FAILED/.test(last) && !/CONTINUED/.test(last) ? listed : undefined;
  }, 60_000);

/** How many times each agent action ran on each server. */
function actionsOn(assets: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of agents.done) {
    const [, action, asset] = line.split(' ');
    if (!assets.includes(asset!)) continue;
    const key = `${action} ${asset}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

async function expectOneChain(id: string, runs: number): Promise<string[]> {
  const journal = await readJournal(database.db, id);
  expect(journal.map((e) => e.seq)).toEqual(journal.map((_, i) => i + 1));
  expect(await verifyJournal(database.db, id)).toMatchObject({ ok: true });
  const events = journal.map((e) => e.event);
  expect(events.filter((e) => e === 'process.started')).toHaveLength(1);
  expect(events.filter((e) => e === 'process.continued')).toHaveLength(runs - 1);
  return journal.map((e) => `${e.event} ${e.step_key ?? ''} ${String((e.data as { asset?: unknown }).asset ?? '')}`.trim());
}

describe('patch cycle history budget', () => {
  it(`when a cycle of 120 servers passes the budget, then it continues as new between server steps and patches each server once`, async () => {
    const id = await startCycle('many', { assets: servers.slice(0, 120), batchSize: 60 });
    const result = (await client.workflow.getHandle(id).result()) as PatchCycleResult;
    expect(result.status).toBe('completed');
    expect(result.servers).toHaveLength(120);
    expect(result.servers.every((s) => s.fate === 'patched' && s.snapshot?.startsWith('snap-'))).toBe(true);
    expect(result.servers.map((s) => s.batch)).toEqual(servers.slice(0, 120).map((_, i) => (i < 60 ? 1 : 2)));

    const runs = await settledRuns(id);
    expect(runs[0]!.closedAs).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW');
    expect(runs[0]!.events).toBeGreaterThanOrEqual(HISTORY_BUDGET.events);
    for (const run of runs) expect(run.events).toBeLessThan(4_096);

    // Each server's three actions ran once: no step was repeated or skipped by a hand-over.
    const counts = actionsOn(servers.slice(0, 120));
    expect(counts.size).toBe(120 * 3);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    const lines = await expectOneChain(id, runs.length);
    for (const key of ['vm.snapshot', 'vm.patch', 'vm.health-check']) {
      expect(lines.filter((l) => l.startsWith(`step.started ${key} `))).toHaveLength(120);
    }
    expect(lines.filter((l) => l.startsWith('batch.started'))).toHaveLength(2);
    expect(lines.filter((l) => l.startsWith('change.reported'))).toHaveLength(1);
    expect((await getProcess(database.db, id))?.status).toBe('completed');
  }, 400_000);

  it('when a batch fails after a hand-over, then its roll-back goes on in the next run and the stateful server is decided once', async () => {
    // One batch of 55: the last server's check fails near the budget, so the run hands over
    // during the checks or the roll-back; the 6 stateful servers each need a decision.
    const assets = servers.slice(145, 200);
    agents.unhealthy.add('srv-200');
    const id = await startCycle('rollback', { assets, batchSize: 55 });
    const decided = new Set<string>();
    const handle = client.workflow.getHandle(id);
    const ended = handle.result().then(() => undefined, () => undefined);
    while (decided.size < 6) {
      const open = await Promise.race([
        ended.then(() => undefined),
        waitFor('a rollback decision', async () => (await listTasksForParty(database.db, { partyId: PROVIDER, processId: id, status: ['open'], limit: 5 })).tasks.find((t) => t.step_key === 'vm.restore-snapshot' && !decided.has(t.id)), 300_000),
      ]);
      if (!open) break;
      decided.add(open.id);
      const done = await completeTask(world.deps(), boss, open.id, { decision: 'approve' });
      expect(done.status).toBe(200);
    }
    expect(decided.size).toBe(6);
    await expect(handle.result()).rejects.toThrow();
    const runs = await settledRuns(id);
    expect(runs[0]!.closedAs).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW');
    for (const run of runs) expect(run.events).toBeLessThan(4_096);

    const counts = actionsOn(assets);
    for (const asset of assets) {
      expect(counts.get(`vm-snapshot ${asset}`), asset).toBe(1);
      expect(counts.get(`apply-os-patches ${asset}`), asset).toBe(1);
      expect(counts.get(`vm-restore ${asset}`), asset).toBe(1);
    }
    const lines = await expectOneChain(id, runs.length);
    expect(lines.filter((l) => l.startsWith('batch.failed'))).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith('rollback.decision-requested'))).toHaveLength(6);
    expect(lines.filter((l) => l.startsWith('step.started vm.restore-snapshot'))).toHaveLength(55);
    expect((await getProcess(database.db, id))?.status).toBe('failed');
    agents.unhealthy.delete('srv-200');
  }, 400_000);
});
