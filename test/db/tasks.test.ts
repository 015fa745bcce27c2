import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimTask, getTask, listCompletingTasks, listTasksForParty, openTasks, reopenTask, settleTask, type OpenTaskInput } from '../../db/tasks';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { seedContract, seedParties, seedProcess } from './seed';

let t: TestDatabase;
let processId: string;
beforeAll(async () => {
  t = await createTestDatabase({ maxConnections: 20 });
  await seedParties(t.db);
  await seedContract(t.db);
  processId = (await seedProcess(t.db)).id;
});
afterAll(async () => {
  await t.drop();
});

const approval = (id: string, dueAt: string | null = null): OpenTaskInput => ({
  id,
  processId,
  stepKey: 'approve-patch',
  kind: 'approve',
  partyId: 'globex',
  team: 'it',
  requestedBy: 'alice',
  title: 'Approve the January patch',
  payload: { hosts: ['srv-1'] },
  dueAt,
});

describe('tasks', () => {
  it('when a task is opened twice, then the second call creates nothing', async () => {
    expect(await openTasks(t.db, [approval('task-a')])).toEqual(['task-a']);
    expect(await openTasks(t.db, [approval('task-a')])).toEqual([]);
    expect(await getTask(t.db, 'task-a')).toMatchObject({ status: 'open', payload: { hosts: ['srv-1'] }, requested_by: 'alice' });
  });

  it('when fifty users claim one task at once, then exactly one wins', async () => {
    await openTasks(t.db, [approval('task-race')]);
    const claims = await Promise.all(
      Array.from({ length: 50 }, (_, i) => claimTask(t.db, { taskId: 'task-race', partyId: 'globex', userId: `u${i}`, submission: { i } })),
    );
    const winners = claims.filter((claim) => claim !== undefined);
    expect(winners).toHaveLength(1);
    const task = await getTask(t.db, 'task-race');
    expect(task).toMatchObject({ status: 'completing', claimed_by: winners[0]!.claimed_by, submission: winners[0]!.submission });
  });

  it('when another party claims a task, then nothing is claimed', async () => {
    await openTasks(t.db, [approval('task-party')]);
    expect(await claimTask(t.db, { taskId: 'task-party', partyId: 'acme-it', userId: 'alice', submission: {} })).toBeUndefined();
  });

  it('when someone other than the claimer reopens, then the claim stands; when the claimer does, then it is open again', async () => {
    await openTasks(t.db, [approval('task-reopen')]);
    await claimTask(t.db, { taskId: 'task-reopen', partyId: 'globex', userId: 'bob', submission: { approve: true } });
    expect(await reopenTask(t.db, 'task-reopen', { claimedBy: 'carol' })).toBeUndefined();
    expect((await getTask(t.db, 'task-reopen'))?.status).toBe('completing');
    const reopened = await reopenTask(t.db, 'task-reopen', { claimedBy: 'bob' });
    expect(reopened).toMatchObject({ status: 'open', claimed_by: null, submission: null });
  });

  it('when a claimed task is settled twice, then the first settlement stands', async () => {
    await openTasks(t.db, [approval('task-settle')]);
    await claimTask(t.db, { taskId: 'task-settle', partyId: 'globex', userId: 'bob', submission: { approve: true } });
    const at = '2025-01-10T10:00:00.000Z';
    expect(await settleTask(t.db, 'task-settle', { status: 'done', at })).toMatchObject({ status: 'done', completed_by: 'bob' });
    expect(await settleTask(t.db, 'task-settle', { status: 'expired', at })).toBeUndefined();
    expect(await reopenTask(t.db, 'task-settle', { claimedBy: 'bob' })).toBeUndefined();
    expect((await getTask(t.db, 'task-settle'))?.completed_at?.toISOString()).toBe(at);
  });

  it('when a claim is older than the cut-off, then the reconciler lists it', async () => {
    await openTasks(t.db, [approval('task-stuck')]);
    await claimTask(t.db, { taskId: 'task-stuck', partyId: 'globex', userId: 'bob', submission: {} });
    await sql`update tasks set claimed_at = now() - interval '10 minutes' where id = 'task-stuck'`.execute(t.db);
    const stuck = await listCompletingTasks(t.db, new Date(Date.now() - 60_000));
    expect(stuck.map((task) => task.id)).toEqual(['task-stuck']);
  });

  it('when the inbox is read page by page, then tasks come soonest due first, undated last, each once', async () => {
    await openTasks(t.db, [
      approval('inbox-3', '2025-03-01T00:00:00.000Z'),
      approval('inbox-1', '2025-01-01T00:00:00.000Z'),
      approval('inbox-2b', '2025-02-01T00:00:00.000Z'),
      approval('inbox-2a', '2025-02-01T00:00:00.000Z'),
      approval('inbox-none-b'),
      approval('inbox-none-a'),
    ]);
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await listTasksForParty(t.db, { partyId: 'globex', processId, status: ['open'], limit: 2, after });
      seen.push(...page.tasks.map((task) => task.id).filter((id) => id.startsWith('inbox-')));
      if (!page.next) break;
      after = page.next;
    }
    expect(seen.slice(0, 4)).toEqual(['inbox-1', 'inbox-2a', 'inbox-2b', 'inbox-3']);
    expect(seen.slice(4)).toEqual(['inbox-none-a', 'inbox-none-b']);
    const due = await listTasksForParty(t.db, { partyId: 'globex', dueBefore: '2025-02-15T00:00:00Z', limit: 10 });
    expect(due.tasks.map((task) => task.id)).toEqual(['inbox-1', 'inbox-2a', 'inbox-2b']);
    expect(await listTasksForParty(t.db, { partyId: 'acme-it', limit: 10 })).toEqual({ tasks: [] });
  });
});
