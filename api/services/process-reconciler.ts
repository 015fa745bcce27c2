// Processes closed with Temporal's own tools (terminate, cancel from the CLI or UI, a run timeout)
// never ran their own ending, so the database still says `running`. The history is the truth:
// this finds such runs through Temporal's visibility and makes the database follow it (status,
// open tasks cancelled, jobs withdrawn, the ending journaled after the last entry written).
// docs/ARCHITECTURE.md "The record follows the history".
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { sql, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import { appendJournal } from '../../db/journal';
import { getProcess, recordProcessState } from '../../db/processes';
import type { Schema } from '../../db/schema';
import { inTransaction } from '../../db/transaction';

export interface ClosedProcessesDeps {
  db: Kysely<Schema>;
  client: Client;
  log: Logger;
}

/** How a closed run's status reads in Mandate's terms. */
const STATUS_OF: Record<string, 'failed' | 'cancelled'> = {
  TERMINATED: 'cancelled',
  CANCELLED: 'cancelled',
  FAILED: 'failed',
  TIMED_OUT: 'failed',
};

/**
 * Reconciles processes whose last run closed without ending the Mandate way (its search
 * attribute MandateStatus still says running). `closedSince` bounds the visibility query on
 * periodic passes; a pass at start-up looks at every closed run.
 */
export async function reconcileClosedProcesses(deps: ClosedProcessesDeps, closedSince?: Date): Promise<number> {
  const since = closedSince ? ` AND CloseTime > "${closedSince.toISOString()}"` : '';
  const query = `MandateStatus = "running" AND ExecutionStatus IN ("Terminated", "Canceled", "Failed", "TimedOut")${since}`;
  let reconciled = 0;
  for await (const execution of deps.client.workflow.list({ query })) {
    if (await reconcileOne(deps, execution)) reconciled++;
  }
  return reconciled;
}

async function reconcileOne(deps: ClosedProcessesDeps, execution: WorkflowExecutionInfo): Promise<boolean> {
  const processId = execution.workflowId;
  const row = await getProcess(deps.db, processId);
  if (!row || row.status !== 'running') return false;
  // The latest run of the id decides: a run that continued as new is not the end of the process.
  const latest = await deps.client.workflow.getHandle(processId).describe();
  if (latest.runId !== execution.runId) return false;
  const status = STATUS_OF[execution.status.name];
  if (!status) return false;
  const reason = await closeReason(deps.client, processId, execution.runId);
  const at = (execution.closeTime ?? new Date()).toISOString();
  await inTransaction(deps.db, async (trx) => {
    const last = await trx.selectFrom('journal').select(sql<number>`coalesce(max(seq), 0)`.as('seq')).where('process_id', '=', processId).executeTakeFirstOrThrow();
    await appendJournal(trx, processId, [
      { seq: Number(last.seq) + 1, at, event: `process.${status}`, actor: 'temporal', data: { closedAs: execution.status.name, reason, outsideMandate: true } },
    ]);
    await trx.updateTable('tasks').set({ status: 'cancelled', completed_at: at }).where('process_id', '=', processId).where('status', 'in', ['open', 'completing']).execute();
    await trx.updateTable('agent_jobs').set({ status: 'withdrawn', finished_at: sql<Date>`now()` }).where('process_id', '=', processId).where('status', 'in', ['offered', 'running']).execute();
    await recordProcessState(trx, processId, { status, currentStep: null, endedAt: at });
  });
  deps.log.warn({ processId, closedAs: execution.status.name, reason }, 'process closed outside Mandate: the database follows its history');
  return true;
}

/** The reason Temporal's history gives for the close (a terminate's reason, a failure's message). */
async function closeReason(client: Client, processId: string, runId: string): Promise<string> {
  try {
    const history = await client.workflow.getHandle(processId, runId).fetchHistory();
    const last = history.events?.at(-1);
    return (
      last?.workflowExecutionTerminatedEventAttributes?.reason ||
      last?.workflowExecutionFailedEventAttributes?.failure?.message ||
      (last?.workflowExecutionTimedOutEventAttributes ? 'the run timed out' : '') ||
      (last?.workflowExecutionCanceledEventAttributes ? 'cancelled in Temporal' : '') ||
      'closed outside Mandate'
    );
  } catch {
    return 'closed outside Mandate';
  }
}
