// A completion that races the hard deadline is decided one way (docs/ARCHITECTURE.md "Human
// tasks"): the person is told done and the journal says completed, or the person is refused
// and the journal says expired; never both, never a done row for an expired step.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import { getTask, listTasksForParty } from '../../db/tasks';
import { readJournal, verifyJournal } from '../../db/journal';
import type { Principal } from '../../db/api-keys';
import type { TaskRow } from '../../db/schema';
import { completeTask } from '../../api/services/tasks';
import type { StepResult } from '../../workflows/step';
import { aContract, aParty, CLIENT, PROVIDER } from '../support/builders';
import type { TestDatabase } from '../support/db';
import { startEngineWorld, type EngineWorld } from '../support/engine-world';
import { startProbe, waitFor } from '../support/harness';

const VENDOR = 'pc-vendor';
const contract = aContract()
  .with((c) => {
    c.id = 'ctr-race';
    c.parties = [
      aParty({ id: PROVIDER, kind: 'provider', contractedBy: undefined, users: [{ id: 'u-op', roles: ['operator'] }] }),
      aParty({ id: CLIENT, kind: 'client', contractedBy: undefined, users: [{ id: 'u-hr', roles: ['operator'] }] }),
      aParty({ id: VENDOR, contractedBy: CLIENT, users: [{ id: 'u-ship', roles: ['operator'] }] }),
    ];
  })
  .withRow('ship.hard', { R: { party: VENDOR, by: 'person' }, A: CLIENT, hardDeadline: 'PT3S' })
  .build();

const vendor: Principal = { keyId: 'k-ship', partyId: VENDOR, partyKind: 'third-party', userId: 'u-ship', roles: ['operator'] };
const requester = { userId: 'u-hr', partyId: CLIENT };

let world: EngineWorld;
let database: TestDatabase;
let client: Client;

beforeAll(async () => {
  world = await startEngineWorld({ testFile: import.meta.url, contract });
  ({ database, client } = world);
});

afterAll(() => world?.stop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a completion racing the hard deadline', () => {
  it('when people complete at the very instant the deadline fires, then each task is decided one way and journaled once', async () => {
    const offsets = [-120, -60, -30, -10, 0, 0, 10, 30, 60, 120];
    const outcomes = await Promise.all(
      offsets.map(async (offset) => {
        const handle = await startProbe(client, database.db, { taskQueue: world.taskQueue, contractId: contract.id, requestedBy: requester, steps: [{ key: 'ship.hard' }] });
        const task: TaskRow = await waitFor('the task', async () => (await listTasksForParty(database.db, { partyId: VENDOR, processId: handle.workflowId, status: ['open'], limit: 5 })).tasks[0]);
        await sleep(Math.max(0, new Date(task.hard_deadline_at!).getTime() + offset - Date.now()));
        const answer = await completeTask(world.deps(), vendor, task.id, {}).then(
          (r) => r.status,
          (err: { status?: number }) => err.status ?? 500,
        );
        const [step] = (await handle.result()) as StepResult[];
        // A 202 is settled by the reconciler; here the workflow always answers in time.
        await waitFor('the row to settle', async () => ((await getTask(database.db, task.id))?.status !== 'completing' ? true : undefined));
        const row = await getTask(database.db, task.id);
        const events = (await readJournal(database.db, handle.workflowId)).map((e) => e.event);
        expect(await verifyJournal(database.db, handle.workflowId)).toMatchObject({ ok: true });
        return { offset, answer, outcome: step!.outcome, row: row?.status, completed: events.filter((e) => e === 'task.completed').length, expired: events.filter((e) => e === 'task.expired').length };
      }),
    );
    for (const o of outcomes) {
      if (o.answer === 200) expect(o, `offset ${o.offset}`).toMatchObject({ outcome: 'done', row: 'done', completed: 1, expired: 0 });
      else {
        expect([409, 422], `offset ${o.offset}: answer`).toContain(o.answer);
        expect(o, `offset ${o.offset}`).toMatchObject({ outcome: 'expired', row: 'expired', completed: 0, expired: 1 });
      }
    }
  }, 120_000);
});
