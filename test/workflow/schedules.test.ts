// A contract's schedules against the real dev server: created, amended, left alone,
// paused, triggered and deleted. The schedules never fire on their own here.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Client } from '@temporalio/client';
import { parseContract, type Contract } from '../../domain/contract';
import {
  deleteContractSchedules,
  describeSchedule,
  listContractScheduleIds,
  pauseSchedule,
  resumeSchedule,
  syncContractSchedules,
  triggerSchedule,
  type ScheduleMemo,
} from '../../temporal/schedules';
import { aContract, aParty, CLIENT, PROVIDER } from '../support/builders';
import { silentLog, waitFor } from '../support/harness';
import { connectTestClient, taskQueueFor, type TestClient } from '../support/temporal';

const PROCESSES = ['employee-onboarding', 'backup', 'patch-cycle', 'restore-test', 'contract-billing'];
// No worker polls this queue: a triggered run only has to start.
const workflowTypes = { backup: 'stepProbe', 'patch-cycle': 'stepProbe', 'restore-test': 'stepProbe', 'contract-billing': 'stepProbe' };
const taskQueue = taskQueueFor(import.meta.url);
const contractId = `ctr-sched-${randomBytes(3).toString('hex')}`;

function contractWith(edit: (c: Contract) => void = () => {}): Contract {
  const doc = aContract()
    .with((c) => {
      c.id = contractId;
      c.parties = [
        aParty({ id: PROVIDER, kind: 'provider', contractedBy: undefined }),
        aParty({ id: CLIENT, kind: 'client', contractedBy: undefined }),
      ];
      c.maintenanceWindows = [{ name: 'sunday-night', calendar: { dayOfWeek: 'SUN', hour: 1, minute: 0 }, duration: 'PT4H' }];
      c.schedules = {
        'nightly-backup': { process: 'backup', calendar: { hour: 1, minute: 0 } },
        'monthly-patching': { process: 'patch-cycle', calendar: { dayOfWeek: 'TUE', dayOfMonth: '8-14', hour: 9 }, runIn: 'sunday-night' },
        'restore-test': { process: 'restore-test', calendar: { dayOfWeek: 'MON', dayOfMonth: '1-7', hour: 10 } },
        billing: { process: 'contract-billing', calendar: { dayOfMonth: 1, hour: 6 } },
      };
      edit(c);
    })
    .build();
  const parsed = parseContract(doc, { processes: PROCESSES });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return parsed.contract;
}

let temporal: TestClient;
let client: Client;
const sync = (contract: Contract, contractVersion: number) => syncContractSchedules({ client, taskQueue, contract, contractVersion, log: silentLog, workflowTypes });
const id = (name: string) => `mandate:${contractId}:${name}`;
const memoOf = (d: { action: { memo?: Record<string, unknown> } } | undefined) => d?.action.memo as Partial<ScheduleMemo> | undefined;
const ALL = ['billing', 'monthly-patching', 'nightly-backup', 'restore-test'].map(id);

/** Write RPCs of the schedule service, counted on the connection every call goes through. */
function spyOnWrites() {
  const service = temporal.connection.workflowService;
  return (['createSchedule', 'updateSchedule', 'deleteSchedule', 'patchSchedule'] as const).map((m) => vi.spyOn(service, m));
}

beforeAll(async () => {
  temporal = await connectTestClient();
  client = temporal.client;
});

afterAll(async () => {
  await deleteContractSchedules({ client, contract: contractWith() }).catch(() => undefined);
  await temporal?.close();
});

describe('syncContractSchedules', () => {
  it('when a contract is activated, then its four schedules appear in the provider zone, listed by Temporal', async () => {
    const result = await sync(contractWith(), 1);
    expect(result.created.sort()).toEqual(ALL);
    expect([result.updated, result.deleted, result.unchanged, result.skipped]).toEqual([[], [], [], []]);
    const listed = await waitFor('the four schedules in the list', async () => {
      const ids = await listContractScheduleIds(client, contractId);
      return ids.length === 4 ? ids : undefined;
    });
    expect(listed.sort()).toEqual(ALL);
    const patching = await describeSchedule(client, contractId, 'monthly-patching');
    expect(patching?.spec.timezone).toBe('Europe/Paris');
    expect(patching?.spec.calendars?.[0]).toMatchObject({ dayOfWeek: [{ start: 'TUESDAY', end: 'TUESDAY' }], dayOfMonth: [{ start: 8, end: 14 }], hour: [{ start: 9, end: 9 }] });
    // Second Tuesdays at 09:00 Paris: 07:00Z or 08:00Z, days 8 to 14.
    for (const at of patching!.info.nextActionTimes) {
      expect(at.getUTCDay()).toBe(2);
      expect(at.getUTCDate()).toBeGreaterThanOrEqual(8);
      expect(at.getUTCDate()).toBeLessThanOrEqual(14);
    }
    expect(patching?.action).toMatchObject({ workflowType: 'stepProbe', taskQueue, workflowId: `mandate:${contractId}:patch-cycle:scheduled` });
    expect(patching?.action.args?.[0]).toMatchObject({ contractId, businessKey: '', processType: 'patch-cycle', schedule: { name: 'monthly-patching', runIn: { name: 'sunday-night' } } });
    const billing = await describeSchedule(client, contractId, 'billing');
    expect(billing?.policies.overlap).toBe('ALLOW_ALL');
    expect((await describeSchedule(client, contractId, 'nightly-backup'))?.policies).toMatchObject({ overlap: 'SKIP', catchupWindow: 3_600_000 });
  });

  it('when one spec is amended, then exactly that schedule is updated and keeps its pause', async () => {
    await pauseSchedule(client, contractId, 'nightly-backup', 'datacentre move');
    const before = await describeSchedule(client, contractId, 'nightly-backup');
    const writes = spyOnWrites();
    let calls: number[] = [];
    const result = await sync(contractWith((c) => {
      c.schedules['nightly-backup']!.calendar = { hour: 2, minute: 30 };
    }), 2).finally(() => {
      calls = writes.map((spy) => spy.mock.calls.length);
      writes.forEach((spy) => spy.mockRestore());
    });
    // The spies see the writes: one update, nothing else.
    expect(calls).toEqual([0, 1, 0, 0]);
    expect(result.updated).toEqual([id('nightly-backup')]);
    expect(result.unchanged.sort()).toEqual(ALL.filter((i) => i !== id('nightly-backup')));
    expect([result.created, result.deleted]).toEqual([[], []]);
    const after = await describeSchedule(client, contractId, 'nightly-backup');
    expect(after?.spec.calendars?.[0]?.hour).toEqual([{ start: 2, end: 2, step: 1 }]);
    expect(memoOf(after)?.contractVersion).toBe(2);
    expect(memoOf(after)?.specHash).not.toBe(memoOf(before)?.specHash);
    expect(after?.state).toMatchObject({ paused: true, note: 'datacentre move' });
    await resumeSchedule(client, contractId, 'nightly-backup');
  });

  it('when the contract is synced again without change, then nothing is written', async () => {
    const amended = contractWith((c) => {
      c.schedules['nightly-backup']!.calendar = { hour: 2, minute: 30 };
    });
    const updatedAt = await Promise.all(ALL.map(async (s) => (await client.schedule.getHandle(s).describe()).info.lastUpdatedAt?.getTime()));
    const writes = spyOnWrites();
    try {
      const result = await sync(amended, 3);
      expect([result.created, result.updated, result.deleted]).toEqual([[], [], []]);
      expect(result.unchanged.sort()).toEqual(ALL);
      for (const spy of writes) expect(spy).not.toHaveBeenCalled();
    } finally {
      for (const spy of writes) spy.mockRestore();
    }
    const again = await Promise.all(ALL.map(async (s) => (await client.schedule.getHandle(s).describe()).info.lastUpdatedAt?.getTime()));
    expect(again).toEqual(updatedAt);
  });

  it('when a schedule leaves the contract, then it is deleted and the others stay', async () => {
    const result = await sync(contractWith((c) => {
      c.schedules['nightly-backup']!.calendar = { hour: 2, minute: 30 };
      delete c.schedules['restore-test'];
    }), 4);
    expect(result.deleted).toEqual([id('restore-test')]);
    expect(result.unchanged).toHaveLength(3);
    expect(await describeSchedule(client, contractId, 'restore-test')).toBeUndefined();
    // Back in the contract: created again (the list may still show it as deleted).
    const back = await sync(contractWith(), 5);
    expect(back.created).toEqual([id('restore-test')]);
    expect(back.updated).toEqual([id('nightly-backup')]);
  });

  it('when a process has no workflow type, then its schedule is skipped, not created', async () => {
    const result = await syncContractSchedules({ client, taskQueue, contract: contractWith(), contractVersion: 5, log: silentLog, workflowTypes: { backup: 'stepProbe' } });
    expect(result.skipped).toHaveLength(3);
    expect(result.unchanged).toEqual([id('nightly-backup')]);
    expect(result.deleted).toEqual([]);
  });
});

describe('operating a schedule', () => {
  it('when a schedule is paused with a note, then it is described as paused with that note; resumed, it is not', async () => {
    await pauseSchedule(client, contractId, 'billing', 'invoice dispute, see ticket 42');
    expect((await describeSchedule(client, contractId, 'billing'))?.state).toMatchObject({ paused: true, note: 'invoice dispute, see ticket 42' });
    await resumeSchedule(client, contractId, 'billing', 'dispute settled');
    expect((await describeSchedule(client, contractId, 'billing'))?.state).toMatchObject({ paused: false, note: 'dispute settled' });
  });

  it('when a schedule is triggered, then a run starts with the scheduled workflow id and the schedule arguments', async () => {
    await triggerSchedule(client, contractId, 'nightly-backup');
    const action = await waitFor('the triggered action', async () => (await describeSchedule(client, contractId, 'nightly-backup'))?.info.recentActions.at(-1));
    const workflowId = action.action.workflow.workflowId;
    expect(workflowId).toMatch(new RegExp(`^mandate:${contractId}:backup:scheduled-\\d{4}-\\d{2}-\\d{2}T`));
    const run = client.workflow.getHandle(workflowId);
    const described = await run.describe();
    expect(described.type).toBe('stepProbe');
    expect(described.memo).toMatchObject({ schedule: 'nightly-backup' });
    expect(described.typedSearchAttributes.getAll().map((p) => p.key.name)).toEqual(expect.arrayContaining(['MandateContract', 'TemporalScheduledStartTime', 'TemporalScheduledById']));
    await run.terminate('test: no worker runs scheduled work here');
  });

  it('when the contract is terminated, then all its schedules are deleted', async () => {
    const deleted = await deleteContractSchedules({ client, contract: contractWith(), log: silentLog });
    expect(deleted.sort()).toEqual(ALL);
    for (const name of ['billing', 'monthly-patching', 'nightly-backup', 'restore-test']) expect(await describeSchedule(client, contractId, name)).toBeUndefined();
  });
});
