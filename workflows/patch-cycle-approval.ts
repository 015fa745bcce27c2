// The sign-offs of a patch cycle, built on ProcessRun's tasks rather than runStep: the change
// is approved now and carried out later, in a window, by other steps (runStep approves and
// executes in one go), and a stateful server's rollback needs a person's decision first.
import * as wf from '@temporalio/workflow';
import { approvalExpiresAt, type ChangeApproval, type ChangeTyping } from '../domain/change';
import { deadlineAt } from '../domain/deadline';
import { resolveStep, type ResolvedStep } from '../domain/raci';
import { nowIso, nowMs, type PendingTask, type ProcessRun } from './process';

export const CHANGE_KEY = 'change.patch';

export type ChangeDecision = { approved: true; approval: ChangeApproval; approvedBy?: string } | { approved: false; reason: string };

export interface ChangeRequest {
  title: string;
  assets: string[];
  details: Record<string, unknown>;
}

/**
 * A standard change is pre-approved (journaled with its policy clause). A normal change
 * consults C of `change.patch`, then asks its A; an emergency change asks the policy's
 * emergency approver. Four-eyes is the task validator's (ProcessRun.validateCompletion).
 * The approval covers the listed assets until it expires; timing out is a rejection.
 */
export async function approveChange(run: ProcessRun, typing: ChangeTyping, request: ChangeRequest): Promise<ChangeDecision> {
  const resolved = resolveStep(run.slice, CHANGE_KEY);
  if (!resolved.ok) throw wf.ApplicationFailure.nonRetryable(`${CHANGE_KEY}: ${resolved.message}`, 'StepNotCovered');
  const step = resolved.step;
  const requester = run.start.requestedBy;
  run.journal({
    stepKey: CHANGE_KEY,
    event: 'change.requested',
    partyId: requester.partyId,
    actor: `user:${requester.userId}`,
    clause: typing.clause,
    data: { changeType: typing.type, assets: request.assets, ...request.details },
  });
  const approver = typing.approver;
  if (approver.kind === 'pre-approved') {
    run.journal({ stepKey: CHANGE_KEY, event: 'change.pre-approved', clause: typing.clause, data: { standardChange: approver.standardChange, assets: request.assets } });
    return { approved: true, approval: { approvedAt: nowMs(), assets: request.assets } };
  }

  const consulted = typing.type === 'normal' && step.consulted.length > 0 ? await consult(run, step, request) : [];
  const partyId = approver.kind === 'emergency' ? approver.party : step.accountable;
  const clause = approver.kind === 'emergency' ? typing.clause : step.clause;
  const startedAt = nowMs();
  const dueAt = step.options.due ? deadlineAt(run.slice, startedAt, step.options.due, step.options.calendar) : undefined;
  const hardAt = step.options.hardDeadline ? deadlineAt(run.slice, startedAt, step.options.hardDeadline, step.options.calendar) : undefined;
  const task = run.newTask(
    {
      kind: 'approve',
      stepKey: CHANGE_KEY,
      partyId,
      ...(approver.kind === 'emergency' && approver.team !== undefined && { team: approver.team }),
      title: `Approve ${typing.type} change: ${request.title}`,
      payload: { ...request.details, changeType: typing.type, assets: request.assets, expiresAfter: typing.expiresAfter, consulted },
      dueAt: iso(dueAt),
      hardDeadlineAt: iso(hardAt),
    },
    clause,
  );
  const answered = await waitForTask(run, task, clause, { dueAt, hardAt });
  if (!answered) {
    run.journal({ stepKey: CHANGE_KEY, event: 'change.rejected', partyId, clause, data: { reason: 'approval timed out: treated as a rejection' } });
    return { approved: false, reason: 'approval timed out: treated as a rejection' };
  }
  const by = task.answer?.userId;
  if (task.answer?.decision !== 'approve') {
    run.journal({ stepKey: CHANGE_KEY, event: 'change.rejected', partyId, actor: `user:${by}`, clause, data: { comment: task.answer?.comment } });
    return { approved: false, reason: `rejected by ${by ?? 'unknown'}` };
  }
  const approvedAt = nowMs();
  const expiresAt = typing.expiresAfter === undefined ? undefined : approvalExpiresAt(run.slice, approvedAt, typing.expiresAfter);
  run.journal({ stepKey: CHANGE_KEY, event: 'change.approved', partyId, actor: `user:${by}`, clause, data: { assets: request.assets, expiresAt: iso(expiresAt), policy: typing.clause } });
  return { approved: true, approval: { approvedAt, assets: request.assets, ...(expiresAt !== undefined && { expiresAt }) }, ...(by !== undefined && { approvedBy: by }) };
}

export type RollbackDecision = { restore: true; decidedBy?: string } | { restore: false; reason: string; decidedBy?: string };

/**
 * Rolling a stateful server back loses what was written since its snapshot: when the
 * restore row says `decideIf: stateful`, a person of its A decides first (approve = restore).
 */
export async function decideRollback(run: ProcessRun, restore: ResolvedStep, asset: string, context: { snapshot?: string; failure: string }): Promise<RollbackDecision> {
  const startedAt = nowMs();
  const dueAt = restore.options.due ? deadlineAt(run.slice, startedAt, restore.options.due, restore.options.calendar) : undefined;
  const hardAt = restore.options.hardDeadline ? deadlineAt(run.slice, startedAt, restore.options.hardDeadline, restore.options.calendar) : undefined;
  const task = run.newTask(
    {
      kind: 'approve',
      stepKey: restore.activityKey,
      partyId: restore.accountable,
      title: `Roll ${asset} back to its snapshot? Data written since the snapshot would be lost`,
      payload: { asset, snapshot: context.snapshot, failure: context.failure, decideIf: restore.options.decideIf },
      dueAt: iso(dueAt),
      hardDeadlineAt: iso(hardAt),
    },
    restore.clause,
  );
  run.journal({ stepKey: restore.activityKey, event: 'rollback.decision-requested', partyId: restore.accountable, clause: restore.clause, data: { asset, taskId: task.opening.id, decideIf: restore.options.decideIf } });
  const answered = await waitForTask(run, task, restore.clause, { dueAt, hardAt });
  if (!answered) return { restore: false, reason: 'no decision by the hard deadline: left as it is' };
  const by = task.answer?.userId;
  if (task.answer?.decision === 'approve') return { restore: true, ...(by !== undefined && { decidedBy: by }) };
  return { restore: false, reason: `${by ?? 'unknown'} decided to keep its data${task.answer?.comment ? `: ${task.answer.comment}` : ''}`, ...(by !== undefined && { decidedBy: by }) };
}

/** C parties of `change.patch` are asked before A decides; silence by the deadline is journaled. */
async function consult(run: ProcessRun, step: ResolvedStep, request: ChangeRequest): Promise<{ partyId: string; answer?: unknown }[]> {
  const until = deadlineAt(run.slice, nowMs(), step.options.consultWithin ?? 'P1BD', step.options.calendar);
  const tasks = step.consulted.map((partyId) =>
    run.newTask({ kind: 'consult', stepKey: CHANGE_KEY, partyId, title: `Consulted: ${request.title}`, payload: { ...request.details, assets: request.assets }, dueAt: iso(until), hardDeadlineAt: iso(until) }, step.clause),
  );
  await run.record({ openTasks: tasks.map((t) => t.opening), process: { currentStep: CHANGE_KEY } });
  await wf.condition(() => tasks.every((t) => t.settled), Math.max(1, until - nowMs()));
  const unanswered = tasks.filter((t) => !t.settled);
  for (const t of unanswered) {
    run.forget(t);
    run.journal({ stepKey: CHANGE_KEY, event: 'consult.unanswered', partyId: t.opening.partyId, clause: step.clause, data: { taskId: t.opening.id } });
  }
  if (unanswered.length > 0) await run.record({ settleTasks: unanswered.map((t) => ({ taskId: t.opening.id, status: 'expired' as const, at: nowIso() })) });
  return tasks.map((t) => ({ partyId: t.opening.partyId, answer: t.answer?.payload ?? t.answer?.comment }));
}

/** Opens the task and waits for it; past due its party is told once; at the hard deadline it expires. */
async function waitForTask(run: ProcessRun, task: PendingTask, clause: string, { dueAt, hardAt }: { dueAt?: number; hardAt?: number }): Promise<boolean> {
  const { stepKey, partyId } = task.opening;
  await run.record({ openTasks: [task.opening], process: { currentStep: stepKey } });
  const settled = () => task.settled;
  if (dueAt !== undefined && (hardAt === undefined || dueAt < hardAt)) {
    if (!(await wf.condition(settled, Math.max(1, dueAt - nowMs())))) {
      const about = { taskId: task.opening.id, dueAt: iso(dueAt) };
      run.journal({ stepKey, event: 'step.overdue', partyId, clause, data: about });
      await run.record({ outbox: [{ effectKey: `${run.processId}:${task.opening.id}:step.overdue:${partyId}`, partyId, event: 'step.overdue', payload: { processId: run.processId, processType: run.start.processType, contractId: run.start.contractId, stepKey, clause, at: nowIso(), ...about } }] });
    }
  }
  const done = hardAt === undefined ? (await wf.condition(settled), true) : await wf.condition(settled, Math.max(1, hardAt - nowMs()));
  if (done) return true;
  // The task may be mid-completion: its update handler settles it; we stop waiting.
  run.forget(task);
  run.journal({ stepKey, event: 'task.expired', partyId, clause, data: { taskId: task.opening.id, kind: task.opening.kind } });
  await run.record({ settleTasks: [{ taskId: task.opening.id, status: 'expired', at: nowIso() }] });
  return false;
}

function iso(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}
