// The database follows the history when a process is closed with Temporal's own tools, and a
// completion an earlier kernel settled `done` without the workflow receiving it is delivered again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import type { Client } from '@temporalio/client';
import { getTask, listTasksForParty } from '../../db/tasks';
import { readJournal, verifyJournal } from '../../db/journal';
import { getProcess, registerProcess } from '../../db/processes';
import { jsonb } from '../../db/json';
import type { TaskRow } from '../../db/schema';
import { redeliverLostCompletions } from '../../api/services/tasks';
import { reconcileClosedProcesses } from '../../api/services/process-reconciler';
import type { ProcessStart, TaskCompletion } from '../../workflows/definitions';
import { MandateStatus } from '../../workflows/search-attributes';
import type { StepResult } from '../../workflows/step';
import type { ProbeStep } from '../support/test-workflows';
import { aContract, CLIENT } from '../support/builders';
import type { TestDatabase } from '../support/db';
import { startEngineWorld, type EngineWorld } from '../support/engine-world';
import { silentLog, waitFor } from '../support/harness';

const contract = aContract()
  .with((c) => {
    c.id = 'ctr-reconcile';
  })
  .withRow('hr.request', { R: { party: CLIENT, by: 'person', team: 'hr' }, A: CLIENT })
  .build();
const requester = { userId: 'u-hr', partyId: CLIENT };

let world: EngineWorld;
let database: TestDatabase;
let client: Client;
let counter = 0;

beforeAll(async () => {
  world = await startEngineWorld({ testFile: import.meta.url, contract });
  ({ database, client } = world);
});

afterAll(() => world?.stop());

/** A probe started as the API starts processes: with its search attributes (MandateStatus running). */
async function startTracked(steps: ProbeStep[]) {
  const businessKey = `rec-${Date.now().toString(36)}-${++counter}`;
  const id = `mandate:${contract.id}:step-probe:${businessKey}`;
  await registerProcess(database.db, { id, contractId: contract.id, contractVersion: 1, processType: 'step-probe', businessKey, requestedBy: requester.userId, requestedByParty: requester.partyId });
  const start: ProcessStart<{ steps: ProbeStep[] }> = { contractId: contract.id, version: 1, processType: 'step-probe', businessKey, requestedBy: requester, input: { steps } };
  return client.workflow.start('stepProbe', { workflowId: id, taskQueue: world.taskQueue, args: [start], typedSearchAttributes: [{ key: MandateStatus, value: 'running' }] });
}

const openTaskOf = (processId: string): Promise<TaskRow> =>
  waitFor('the open task', async () => (await listTasksForParty(database.db, { partyId: CLIENT, processId, status: ['open'], limit: 5 })).tasks[0]);

describe('reconcilers', () => {
  it('when a process is terminated with Temporal tools, then the database follows: cancelled, task cancelled, the ending journaled once', async () => {
    const handle = await startTracked([{ key: 'hr.request' }]);
    const task = await openTaskOf(handle.workflowId);
    await handle.terminate('operator cleanup from the CLI');
    const deps = { db: database.db, client, log: silentLog };
    await waitFor('the reconciler to see it', async () => ((await reconcileClosedProcesses(deps)) > 0 || (await getProcess(database.db, handle.workflowId))?.status !== 'running' ? true : undefined), 30_000);
    expect(await getProcess(database.db, handle.workflowId)).toMatchObject({ status: 'cancelled' });
    expect(await getTask(database.db, task.id)).toMatchObject({ status: 'cancelled' });
    const journal = await readJournal(database.db, handle.workflowId);
    expect(journal.at(-1)).toMatchObject({ event: 'process.cancelled', actor: 'temporal', data: { closedAs: 'TERMINATED', reason: 'operator cleanup from the CLI', outsideMandate: true } });
    expect(await verifyJournal(database.db, handle.workflowId)).toMatchObject({ ok: true });
    // A second pass changes nothing.
    await reconcileClosedProcesses(deps);
    expect(await readJournal(database.db, handle.workflowId)).toHaveLength(journal.length);
  });

  it('when a row says done but the workflow never received it (an earlier kernel), then the completion is delivered again and the process goes on', async () => {
    const handle = await startTracked([{ key: 'hr.request' }]);
    const task = await openTaskOf(handle.workflowId);
    const submission: TaskCompletion = { taskId: task.id, userId: 'u-hr', partyId: CLIENT, roles: ['operator'] };
    // What the old local activity left after a crash: the row done, the history without the update.
    await database.db
      .updateTable('tasks')
      .set({ status: 'done', claimed_by: 'u-hr', claimed_at: sql<Date>`now()`, completed_by: 'u-hr', completed_at: sql<Date>`now()`, submission: jsonb(submission) })
      .where('id', '=', task.id)
      .execute();
    const redelivered = await redeliverLostCompletions({ db: database.db, client, log: silentLog, updateWaitMs: 10_000 });
    expect(redelivered).toBe(1);
    const [step] = (await handle.result()) as StepResult[];
    expect(step).toMatchObject({ outcome: 'done', completedBy: 'u-hr' });
    expect((await readJournal(database.db, handle.workflowId)).filter((e) => e.event === 'task.completed')).toHaveLength(1);
  });
});
