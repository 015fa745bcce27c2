// Completing a human task (DESIGN.md "Human tasks"): claim the row first so concurrent
// attempts get 409 at once, then send the workflow Update (update id = task id). The row
// is settled by the workflow (done) or by the validator's rejection (open again); when the
// workflow does not answer in time the task stays `completing` for the reconciler.
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Schema } from '../../db/schema';
import type { Principal } from '../../db/api-keys';
import { assignTask, claimTask, getTask, listCompletingTasks, reopenTask, settleTask } from '../../db/tasks';
import { getUser } from '../../db/parties';
import type { TaskRow } from '../../db/schema';
import { completeTaskUpdate, type TaskCompletion } from '../../workflows/definitions';
import { conflict, forbiddenAction, notFound, unprocessable } from '../errors';
import { crashPoint } from '../../worker/crash-points';

export interface CompletionRequest {
  decision?: 'approve' | 'reject';
  comment?: string;
  payload?: Record<string, unknown>;
}

export type CompletionResult = { status: 200 | 202; task: TaskRow };

type Delivery = { kind: 'done' } | { kind: 'rejected'; reason: string } | { kind: 'gone' } | { kind: 'unknown' };

export async function completeTask(
  deps: { db: Kysely<Schema>; client: Client; log: Logger; updateWaitMs: number },
  principal: Principal,
  taskId: string,
  request: CompletionRequest,
): Promise<CompletionResult> {
  const { db } = deps;
  const task = await getTask(db, taskId);
  if (!task || task.party_id !== principal.partyId) throw notFound(`task ${taskId}`);
  if (!principal.userId) throw forbiddenAction('tasks are completed by people: use a user key, not an agent key');

  const completion: TaskCompletion = { taskId, userId: principal.userId, partyId: principal.partyId, roles: principal.roles, ...request };
  const claimed = await claimTask(db, { taskId, partyId: principal.partyId, userId: principal.userId, submission: completion });
  if (!claimed) {
    const now = await getTask(db, taskId);
    throw conflict(`task ${taskId} is ${now?.status ?? 'gone'}: it can be completed once`, { taskStatus: now?.status });
  }
  crashPoint('task.claimed');

  const delivery = await deliverCompletion(deps, task.process_id, completion);
  switch (delivery.kind) {
    case 'done':
      return { status: 200, task: (await getTask(db, taskId)) ?? claimed };
    case 'rejected':
      await reopenTask(db, taskId, { claimedBy: principal.userId });
      throw unprocessable('task-rejected', 'Completion rejected', delivery.reason);
    case 'gone':
      await settleTask(db, taskId, { status: 'cancelled', at: new Date().toISOString() });
      throw conflict(`the process of task ${taskId} is no longer running`);
    case 'unknown':
      return { status: 202, task: claimed };
  }
}

/** Sends the update and classifies the answer; never throws for Temporal's answers. */
async function deliverCompletion(deps: { client: Client; log: Logger; updateWaitMs: number }, processId: string, completion: TaskCompletion): Promise<Delivery> {
  const handle = deps.client.workflow.getHandle(processId);
  try {
    await deps.client.withAbortSignal(AbortSignal.timeout(deps.updateWaitMs), () =>
      handle.executeUpdate(completeTaskUpdate, { updateId: completion.taskId, args: [completion] }),
    );
    return { kind: 'done' };
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) return { kind: 'rejected', reason: err.cause?.message ?? err.message };
    if (err instanceof WorkflowNotFoundError) return { kind: 'gone' };
    deps.log.warn({ taskId: completion.taskId, err: (err as Error).message }, 'task completion not confirmed yet');
    return { kind: 'unknown' };
  }
}

/**
 * Re-delivers completions left `completing` (API restarted, worker down). The update id
 * is the task id, so a completion the workflow already accepted is never applied twice.
 */
export async function reconcileCompletingTasks(deps: { db: Kysely<Schema>; client: Client; log: Logger; updateWaitMs: number }, olderThanMs: number): Promise<number> {
  const stuck = await listCompletingTasks(deps.db, new Date(Date.now() - olderThanMs));
  for (const task of stuck) {
    const completion = task.submission as TaskCompletion | null;
    if (!completion || !task.claimed_by) continue;
    const delivery = await deliverCompletion(deps, task.process_id, completion);
    if (delivery.kind === 'rejected') await reopenTask(deps.db, task.id, { claimedBy: task.claimed_by });
    if (delivery.kind === 'gone') await settleTask(deps.db, task.id, { status: 'cancelled', at: new Date().toISOString() });
  }
  return stuck.length;
}

/** The roles that may complete a kind of task: the workflow's validator checks the same. */
function canComplete(kind: TaskRow['kind'], roles: readonly string[]): boolean {
  return kind === 'approve' ? roles.includes('approver') : roles.some((r) => r === 'operator' || r === 'approver' || r === 'admin');
}

/** Assigns an open task of my party to one of its users able to complete it. */
export async function reassignTask(db: Kysely<Schema>, principal: Principal, taskId: string, userId: string): Promise<TaskRow> {
  const task = await getTask(db, taskId);
  if (!task || task.party_id !== principal.partyId) throw notFound(`task ${taskId}`);
  const mayAssign = principal.userId !== undefined && (principal.roles.some((r) => r === 'admin' || r === 'operator') || (task.kind === 'approve' && principal.roles.includes('approver')));
  if (!mayAssign) throw forbiddenAction('reassigning a task needs a user key with the admin or operator role (or approver, for approvals)');
  const user = await getUser(db, userId);
  // Another party's user is not named: it is simply not a user of mine.
  if (!user || user.party_id !== principal.partyId) {
    throw unprocessable('invalid-assignee', 'Invalid assignee', `${userId} is not a user of party ${principal.partyId}`, { errors: [{ path: 'body.userId', message: 'not a user of your party' }] });
  }
  if (!canComplete(task.kind, user.roles)) {
    const needed = task.kind === 'approve' ? 'approver' : 'operator, approver or admin';
    throw unprocessable('invalid-assignee', 'Invalid assignee', `${userId} cannot complete a ${task.kind} task: it needs the ${needed} role`, { errors: [{ path: 'body.userId', message: `needs the ${needed} role` }] });
  }
  const assigned = await assignTask(db, { taskId, partyId: principal.partyId, userId });
  if (!assigned) {
    const now = await getTask(db, taskId);
    throw conflict(`task ${taskId} is ${now?.status ?? 'gone'}: only an open task is reassigned`, { taskStatus: now?.status });
  }
  return assigned;
}
