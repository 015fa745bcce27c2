// Completing a human task (docs/ARCHITECTURE.md "Human tasks"): claim the row first so
// concurrent attempts get 409 at once, then send the workflow Update (update id = task id).
// The row is settled `done` here only once the update's result is durable (Temporal answers
// an update after its workflow task is persisted), so the database never says done for a
// completion the history lacks. A refusal by the workflow's validator (`CompletionRefused`)
// puts the task back; any other outcome the API cannot know leaves it `completing` for the
// reconciler, which redelivers under the same update id.
import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Schema } from '../../db/schema';
import type { Principal } from '../../db/api-keys';
import { assignTask, claimTask, getTask, listCompletingTasks, reopenTask, settleTask } from '../../db/tasks';
import { getUser } from '../../db/parties';
import type { TaskRow } from '../../db/schema';
import { assignTaskUpdate, completeTaskUpdate, processStateQuery, type CompletionRefusalDetails, type TaskCompletion } from '../../workflows/definitions';
import { mayAssignTask, mayCompleteAssigned, mayCompleteTask, mayReassignTask, rolesToComplete } from '../../domain/authorization';
import { badRequest, conflict, forbiddenAction, notFound, unprocessable, type FieldError } from '../errors';
import { authorize } from './authorize';
import { crashPoint } from '../../worker/crash-points';

export interface CompletionRequest {
  decision?: 'approve' | 'reject';
  comment?: string;
  payload?: Record<string, unknown>;
  /** The approver's own signature, checked by the workflow against its party's registered keys. */
  clientSignature?: { keyId: string; signature: string };
}

export type CompletionResult = { status: 200 | 202; task: TaskRow };

type Delivery = { kind: 'done'; at: string } | { kind: 'refused'; reason: string; fields?: FieldError[] } | { kind: 'ended-without-it' } | { kind: 'unknown' };

type DeliveryDeps = { client: Client; log: Logger; updateWaitMs: number };

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
  // The row's assignee may lag the run's (which decides); a mismatch here is refused at once.
  const assigned = mayCompleteAssigned({ taskId, assignee: task.assignee_user_id, userId: principal.userId });
  if (!assigned.ok) throw forbiddenAction(assigned.reason);

  const completion: TaskCompletion = { taskId, userId: principal.userId, partyId: principal.partyId, roles: principal.roles, ...request };
  const claimed = await claimTask(db, { taskId, partyId: principal.partyId, userId: principal.userId, submission: completion });
  if (!claimed) {
    const now = await getTask(db, taskId);
    throw conflict(`task ${taskId} is ${now?.status ?? 'gone'}: it can be completed once`, { taskStatus: now?.status });
  }
  crashPoint('task.claimed');

  const delivery = await deliverCompletion(deps, task.process_id, completion);
  const settled = await settleDelivery(db, claimed, delivery);
  switch (delivery.kind) {
    case 'done':
      return { status: 200, task: settled ?? (await getTask(db, taskId)) ?? claimed };
    case 'refused':
      // Fields outside the step's schema (or any field, for a task with none) are the caller's to fix.
      if (delivery.fields && delivery.fields.length > 0) throw badRequest(delivery.reason, delivery.fields);
      throw unprocessable('task-rejected', 'Completion rejected', delivery.reason);
    case 'ended-without-it':
      throw conflict(`the process of task ${taskId} is no longer running`);
    case 'unknown':
      return { status: 202, task: claimed };
  }
}

/** Makes the row say what the delivery established; an unknown outcome leaves it `completing`. */
async function settleDelivery(db: Kysely<Schema>, task: TaskRow, delivery: Delivery): Promise<TaskRow | undefined> {
  const claimedBy = task.claimed_by ?? undefined;
  switch (delivery.kind) {
    case 'done':
      return settleTask(db, task.id, { status: 'done', completedBy: claimedBy ?? null, at: delivery.at });
    case 'refused':
      return claimedBy ? reopenTask(db, task.id, { claimedBy }) : undefined;
    case 'ended-without-it':
      return settleTask(db, task.id, { status: 'cancelled', at: new Date().toISOString() });
    case 'unknown':
      return undefined;
  }
}

/** Sends the update and classifies the answer; never throws for Temporal's answers. */
async function deliverCompletion(deps: DeliveryDeps, processId: string, completion: TaskCompletion): Promise<Delivery> {
  const handle = deps.client.workflow.getHandle(processId);
  try {
    const result = await deps.client.withAbortSignal(AbortSignal.timeout(deps.updateWaitMs), () =>
      handle.executeUpdate(completeTaskUpdate, { updateId: completion.taskId, args: [completion] }),
    );
    return { kind: 'done', at: result.at };
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      const cause = err.cause;
      if (cause instanceof ApplicationFailure && cause.type === 'CompletionRefused') return { kind: 'refused', reason: cause.message, ...refusedFields(cause) };
      // Not the validator's refusal: the update may have been accepted and failed after. Unknown.
      deps.log.warn({ taskId: completion.taskId, err: err.message, cause: cause?.message }, 'task completion failed after acceptance: left completing');
      return { kind: 'unknown' };
    }
    if (err instanceof WorkflowNotFoundError) return closedRunOutcome(deps, processId, completion.taskId);
    deps.log.warn({ taskId: completion.taskId, err: (err as Error).message }, 'task completion not confirmed yet');
    return { kind: 'unknown' };
  }
}

/**
 * The workflow is closed: its history says whether it had accepted the completion (done) or
 * ended without it (the task is cancelled with the process).
 */
async function closedRunOutcome(deps: DeliveryDeps, processId: string, taskId: string): Promise<Delivery> {
  try {
    const history = await deps.client.workflow.getHandle(processId).fetchHistory();
    for (const event of history.events ?? []) {
      const accepted = event.workflowExecutionUpdateAcceptedEventAttributes;
      if (accepted?.acceptedRequest?.meta?.updateId === taskId) return { kind: 'done', at: eventTime(event.eventTime) };
    }
    return { kind: 'ended-without-it' };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return { kind: 'ended-without-it' };
    deps.log.warn({ taskId, err: (err as Error).message }, 'history of a closed process not readable: completion left completing');
    return { kind: 'unknown' };
  }
}

function eventTime(t: { seconds?: unknown; nanos?: number | null } | null | undefined): string {
  const seconds = Number(t?.seconds ?? 0);
  return seconds > 0 ? new Date(seconds * 1000 + Math.floor((t?.nanos ?? 0) / 1e6)).toISOString() : new Date().toISOString();
}

/**
 * Re-delivers completions left `completing` (API restarted, worker down, Temporal restarted).
 * The update id is the task id, so a completion the workflow already accepted is never
 * applied twice: Temporal answers with its first outcome.
 */
export async function reconcileCompletingTasks(deps: { db: Kysely<Schema>; client: Client; log: Logger; updateWaitMs: number }, olderThanMs: number): Promise<number> {
  const stuck = await listCompletingTasks(deps.db, new Date(Date.now() - olderThanMs));
  for (const task of stuck) {
    const completion = task.submission as TaskCompletion | null;
    if (!completion || !task.claimed_by) continue;
    const delivery = await deliverCompletion(deps, task.process_id, completion);
    await settleDelivery(deps.db, task, delivery);
  }
  return stuck.length;
}

/**
 * Completions the database says are done but the workflow never received: a deployment that
 * ran the earlier kernel (which settled rows from a local activity that a crash could undo) may
 * hold some. For each running process with such rows, the run's own list of open tasks decides:
 * a `done` row it still waits for is delivered again with what the person submitted.
 */
export async function redeliverLostCompletions(deps: { db: Kysely<Schema>; client: Client; log: Logger; updateWaitMs: number }): Promise<number> {
  const rows = await deps.db
    .selectFrom('tasks')
    .innerJoin('processes', 'processes.id', 'tasks.process_id')
    .selectAll('tasks')
    .where('tasks.status', '=', 'done')
    .where('tasks.submission', 'is not', null)
    .where('processes.status', '=', 'running')
    .orderBy('tasks.completed_at', 'desc')
    .limit(500)
    .execute();
  const byProcess = new Map<string, TaskRow[]>();
  for (const row of rows) byProcess.set(row.process_id, [...(byProcess.get(row.process_id) ?? []), row]);
  let redelivered = 0;
  for (const [processId, done] of byProcess) {
    const state = await deps.client.workflow.getHandle(processId).query(processStateQuery).catch(() => undefined);
    const waiting = new Set(state?.currentStep?.openTaskIds ?? []);
    for (const task of done.filter((t) => waiting.has(t.id))) {
      const delivery = await deliverCompletion(deps, processId, task.submission as TaskCompletion);
      deps.log.warn({ taskId: task.id, processId, delivery: delivery.kind }, 'a completion the workflow never received was delivered again');
      redelivered++;
    }
  }
  return redelivered;
}

/** The fields a refusal names, as request paths (`body.payload.x`). */
function refusedFields(cause: ApplicationFailure): { fields?: FieldError[] } {
  const details = cause.details?.[0] as Partial<CompletionRefusalDetails> | undefined;
  if (!Array.isArray(details?.fields)) return {};
  return { fields: details.fields.map((f) => ({ path: `body.${String(f.path)}`, message: String(f.message) })) };
}

/**
 * Assigns an open task of my party to one of its users able to complete it. The run hears it
 * first (assignTask update: journaled, and from then on only the assignee's completion is
 * accepted); the row follows once the run has it, so the database never leads the history.
 */
export async function reassignTask(deps: { db: Kysely<Schema>; client: Client; log: Logger; updateWaitMs: number }, principal: Principal, taskId: string, userId: string): Promise<TaskRow> {
  const { db } = deps;
  const task = await getTask(db, taskId);
  if (!task || task.party_id !== principal.partyId) throw notFound(`task ${taskId}`);
  authorize(mayReassignTask({ actor: principal, kind: task.kind }));
  const user = await getUser(db, userId);
  // Another party's user is not named: it is simply not a user of mine.
  if (!user || user.party_id !== principal.partyId) {
    throw unprocessable('invalid-assignee', 'Invalid assignee', `${userId} is not a user of party ${principal.partyId}`, { errors: [{ path: 'body.userId', message: 'not a user of your party' }] });
  }
  // The workflow's validator asks the same rule when the assignee completes it.
  if (!mayCompleteTask({ kind: task.kind, roles: user.roles }).ok) {
    const needed = rolesToComplete(task.kind).join(', ').replace(/, ([^,]+)$/, ' or $1');
    throw unprocessable('invalid-assignee', 'Invalid assignee', `${userId} cannot complete a ${task.kind} task: it needs the ${needed} role`, { errors: [{ path: 'body.userId', message: `needs the ${needed} role` }] });
  }
  const fourEyes = mayAssignTask({ taskId, kind: task.kind, assignee: userId, requestedBy: task.requested_by });
  if (!fourEyes.ok) throw unprocessable('invalid-assignee', 'Invalid assignee', fourEyes.reason, { errors: [{ path: 'body.userId', message: 'requested the process: cannot approve it' }] });
  if (task.status !== 'open') throw conflict(`task ${taskId} is ${task.status}: only an open task is reassigned`, { taskStatus: task.status });

  const handle = deps.client.workflow.getHandle(task.process_id);
  try {
    await deps.client.withAbortSignal(AbortSignal.timeout(deps.updateWaitMs), () =>
      handle.executeUpdate(assignTaskUpdate, { updateId: `assign:${taskId}:${randomUUID()}`, args: [{ taskId, assigneeUserId: userId, userId: principal.userId!, partyId: principal.partyId }] }),
    );
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure && err.cause.type === 'CompletionRefused') {
      throw conflict(`task ${taskId} cannot be reassigned: ${err.cause.message}`);
    }
    if (err instanceof WorkflowNotFoundError) throw conflict(`the process of task ${taskId} is no longer running`);
    throw err;
  }
  const assigned = await assignTask(db, { taskId, partyId: principal.partyId, userId });
  if (!assigned) {
    const now = await getTask(db, taskId);
    throw conflict(`task ${taskId} is ${now?.status ?? 'gone'}: only an open task is reassigned`, { taskStatus: now?.status });
  }
  return assigned;
}
