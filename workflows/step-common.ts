// What the step primitive's parts share (step.ts, step-agent.ts): the step's spec and result,
// lateness and escalation while a step waits, and the notices the outbox sends.
import type { z } from 'zod';
import type { ResolvedStep } from '../domain/raci';
import { deadlineAt } from '../domain/deadline';
import type { OutboxInput } from '../activities/engine';
import type { StepOutcome } from './definitions';
import type { PendingTask } from './kernel/inbox';
import type { ProcessRun } from './kernel/run';
import { isoOf as iso, nowIso, untilMs } from './kernel/time';

export interface StepSpec {
  /** The asset the step acts on: selects scoped rows of the matrix. */
  asset?: string;
  /** Shown in the inbox of whoever gets a task for this step. */
  title: string;
  /** Non-personal details shown with the task. */
  details?: Record<string, unknown>;
  /** Parameters of the engine or agent action, validated by the action's own schema. */
  params?: Record<string, unknown>;
  /** What a person completing the execute task must submit. */
  completion?: z.ZodType;
  /**
   * R's task is a signature (kind `sign`): completed by a signatory of R's party who is not the
   * requester, with decision approve (sign) or reject (decline); the step's output says which.
   */
  signature?: boolean;
  /** The requester already did this step by starting the process (when R is their party). */
  doneByRequester?: boolean;
  /**
   * Tells apart two executions of one activity key on one asset in a process (a runbook
   * step used twice, a rollback after a patch): part of the action's idempotency key.
   */
  occurrence?: string;
}

/** process + step (+ asset, + occurrence): the same on every attempt, so an action never acts twice. */
export function effectKeyOf(run: ProcessRun, step: ResolvedStep, spec: StepSpec): string {
  return [run.processId, step.activityKey, spec.asset, spec.occurrence].filter((p) => p !== undefined).join(':');
}

export interface StepResult {
  outcome: StepOutcome;
  output?: unknown;
  completedBy?: string;
  reason?: string;
  consulted: { partyId: string; answer?: unknown }[];
}

export interface Deadlines {
  dueAt?: number;
  hardAt?: number;
}

/**
 * Waits for `done` until the hard deadline. Past the due time A is told the step is late,
 * then the holder's party is escalated level by level along the contract's escalation
 * matrix (each level's `after` counted from the due time), each level journaled. A person's
 * task (`task`) is a resumable wait: the run may continue as new meanwhile, and the notices
 * it sent are not sent again.
 */
export async function waitWithEscalation(
  run: ProcessRun,
  step: ResolvedStep,
  done: () => boolean,
  { dueAt, hardAt }: Deadlines,
  about: { holder: string; taskId?: string; jobId?: string },
  late: { event: string; notify: string[] } = { event: 'step.overdue', notify: [step.accountable] },
  task?: Pick<PendingTask, 'notices'>,
): Promise<boolean> {
  const resumable = { resumable: task !== undefined };
  let notices = 0;
  /** Notices the previous run sent already are skipped, not sent twice. */
  const fresh = () => notices++ >= (task?.notices ?? 0);
  const sent = () => {
    if (task) task.notices = notices;
  };
  if (dueAt !== undefined && (hardAt === undefined || dueAt < hardAt)) {
    if (await run.until(done, untilMs(dueAt), resumable)) return true;
    if (fresh()) {
      run.note({ stepKey: step.activityKey, event: late.event, partyId: about.holder, clause: step.clause, data: { ...about, dueAt: iso(dueAt) } });
      await run.journal.write({ outbox: [...new Set(late.notify)].map((partyId) => notice(run, step, partyId, late.event, { ...about, dueAt: iso(dueAt) })) });
      sent();
    }
    const levels = [...(run.slice.escalation[about.holder] ?? [])].sort((a, b) => a.level - b.level);
    for (const [i, level] of levels.entries()) {
      const at = deadlineAt(run.slice, dueAt, level.after, step.options.calendar);
      if (hardAt !== undefined && at >= hardAt) break;
      if (await run.until(done, untilMs(at), resumable)) return true;
      if (!fresh()) continue;
      const who = { level: level.level, team: level.team, role: level.role };
      run.note({ stepKey: step.activityKey, event: 'step.escalated', partyId: about.holder, clause: `escalation/${about.holder}/${i}`, data: { ...about, ...who, dueAt: iso(dueAt) } });
      await run.journal.write({ outbox: [notice(run, step, about.holder, 'step.escalated', { ...about, ...who, dueAt: iso(dueAt) })] });
      sent();
    }
  }
  if (hardAt !== undefined) return run.until(done, untilMs(hardAt), resumable);
  return run.until(done, undefined, resumable);
}

export function notice(run: ProcessRun, step: ResolvedStep, partyId: string, event: string, extra: Record<string, unknown>): OutboxInput {
  const level = typeof extra.level === 'number' ? `:${extra.level}` : '';
  // The task or job it is about, and the offer's round: parallel steps (one per asset) and a job
  // offered again each get their own notice. Runs recorded before keyed by step and event only.
  const about = [extra.taskId, extra.jobId, extra.round].filter((p) => typeof p === 'string' || typeof p === 'number').map((p) => `:${String(p)}`).join('');
  return {
    // One notice per party, step occurrence, event (and escalation level, task or job): a replayed record writes nothing twice.
    effectKey: `${run.processId}:${step.activityKey}:${run.state.steps.length}:${event}${level}${run.journal.isDurable ? about : ''}:${partyId}`,
    partyId,
    event,
    payload: { processId: run.processId, processType: run.start.processType, contractId: run.start.contractId, stepKey: step.activityKey, clause: step.clause, at: nowIso(), ...extra },
  };
}

export { failureReason } from './kernel/failure';

