// The sign-offs of a patch cycle, built on the step primitive's consultation and decision
// rather than runStep: the change is approved now and carried out later, in a window, by other
// steps (runStep approves and executes in one go), and a stateful server's rollback needs a
// person's decision first.
import { approvalExpiresAt, type ChangeApproval, type ChangeTyping } from '../domain/change';
import { deadlineAt } from '../domain/deadline';
import type { ResolvedStep } from '../domain/raci';
import { nowMs, type ProcessRun } from './process';
import { isoOf as iso } from './kernel/time';
import { askDecision, consultParties, resolveOrFail } from './step';

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
  const step = resolveOrFail(run, CHANGE_KEY);
  const requester = run.start.requestedBy;
  run.note({
    stepKey: CHANGE_KEY,
    event: 'change.requested',
    partyId: requester.partyId,
    actor: `user:${requester.userId}`,
    clause: typing.clause,
    data: { changeType: typing.type, assets: request.assets, ...request.details },
  });
  const approver = typing.approver;
  if (approver.kind === 'pre-approved') {
    run.note({ stepKey: CHANGE_KEY, event: 'change.pre-approved', clause: typing.clause, data: { standardChange: approver.standardChange, assets: request.assets } });
    return { approved: true, approval: { approvedAt: nowMs(), assets: request.assets } };
  }

  const consulted = typing.type === 'normal' && step.consulted.length > 0 ? await consultParties(run, step, { title: request.title, payload: { ...request.details, assets: request.assets } }) : [];
  const partyId = approver.kind === 'emergency' ? approver.party : step.accountable;
  const clause = approver.kind === 'emergency' ? typing.clause : step.clause;
  const startedAt = nowMs();
  const dueAt = step.options.due ? deadlineAt(run.slice, startedAt, step.options.due, step.options.calendar) : undefined;
  const hardAt = step.options.hardDeadline ? deadlineAt(run.slice, startedAt, step.options.hardDeadline, step.options.calendar) : undefined;
  const task = await askDecision(run, step, {
    partyId,
    ...(approver.kind === 'emergency' && approver.team !== undefined && { team: approver.team }),
    clause,
    title: `Approve ${typing.type} change: ${request.title}`,
    payload: { ...request.details, changeType: typing.type, assets: request.assets, expiresAfter: typing.expiresAfter, consulted },
    deadlines: { dueAt, hardAt },
  });
  if (!task) {
    run.note({ stepKey: CHANGE_KEY, event: 'change.rejected', partyId, clause, data: { reason: 'approval timed out: treated as a rejection' } });
    return { approved: false, reason: 'approval timed out: treated as a rejection' };
  }
  const by = task.answer?.userId;
  if (task.answer?.decision !== 'approve') {
    run.note({ stepKey: CHANGE_KEY, event: 'change.rejected', partyId, actor: `user:${by}`, clause, data: { comment: task.answer?.comment } });
    return { approved: false, reason: `rejected by ${by ?? 'unknown'}` };
  }
  const approvedAt = nowMs();
  const expiresAt = typing.expiresAfter === undefined ? undefined : approvalExpiresAt(run.slice, approvedAt, typing.expiresAfter);
  run.note({ stepKey: CHANGE_KEY, event: 'change.approved', partyId, actor: `user:${by}`, clause, data: { assets: request.assets, expiresAt: iso(expiresAt), policy: typing.clause } });
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
  const task = await askDecision(run, restore, {
    partyId: restore.accountable,
    clause: restore.clause,
    title: `Roll ${asset} back to its snapshot? Data written since the snapshot would be lost`,
    payload: { asset, snapshot: context.snapshot, failure: context.failure, decideIf: restore.options.decideIf },
    deadlines: { dueAt, hardAt },
    requested: (taskId) => ({ stepKey: restore.activityKey, event: 'rollback.decision-requested', partyId: restore.accountable, clause: restore.clause, data: { asset, taskId, decideIf: restore.options.decideIf } }),
  });
  if (!task) return { restore: false, reason: 'no decision by the hard deadline: left as it is' };
  const by = task.answer?.userId;
  if (task.answer?.decision === 'approve') return { restore: true, ...(by !== undefined && { decidedBy: by }) };
  return { restore: false, reason: `${by ?? 'unknown'} decided to keep its data${task.answer?.comment ? `: ${task.answer.comment}` : ''}`, ...(by !== undefined && { decidedBy: by }) };
}

