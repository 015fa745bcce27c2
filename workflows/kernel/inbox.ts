// The process's tasks (docs/ARCHITECTURE.md "Human tasks"): a task is a row in the inbox and
// a pending entry here, answered through the completeTask update. The update handler only
// changes workflow state; the row is settled by the API once the update's result is durable,
// and by the process's next write, which carries the journal entry.
import * as wf from '@temporalio/workflow';
import type { z } from 'zod';
import type { TaskOpening } from '../../activities/engine';
import { mayAcceptCompletion } from '../../domain/authorization';
import type { TaskCompleted, TaskCompletion } from '../definitions';
import type { ProcessJournal } from './journal';
import { nowIso } from './time';

export interface PendingTask {
  opening: TaskOpening;
  clause: string;
  /** Validates what a person submits; checked by the update validator. */
  completion?: z.ZodType;
  answer?: TaskCompletion;
  /** The workflow holds the answer (durable runs: as soon as the update is accepted). */
  settled: boolean;
  /** Lateness notices already sent for it (step.overdue, then each escalation level). */
  notices: number;
}

/** A task waiting across continue-as-new: its row stays open, the new run waits for it. */
export interface TaskCarry {
  opening: TaskOpening;
  clause: string;
  notices: number;
}

export interface InboxCarry {
  pending: TaskCarry[];
  /** Answers already accepted: a redelivered completion gets the same outcome in the new run. */
  outcomes: (TaskCompleted & { userId: string })[];
}

/** Outcomes carried at most: redeliveries come within minutes, never for old tasks. */
const OUTCOMES_CARRIED = 200;

export class TaskInbox {
  private readonly pending = new Map<string, PendingTask>();
  private readonly outcomes = new Map<string, TaskCompleted & { userId: string }>();
  private readonly carried = new Map<string, TaskCarry>();
  /** Completions accepted by this run (the history budget counts them). */
  accepted = 0;

  constructor(
    private readonly processId: string,
    private readonly requestedBy: string,
    private readonly journal: ProcessJournal,
  ) {}

  open(spec: Omit<TaskOpening, 'id' | 'processId' | 'requestedBy'>, clause: string, completion?: z.ZodType): PendingTask {
    const opening: TaskOpening = { ...spec, id: `tsk_${wf.uuid4()}`, processId: this.processId, requestedBy: this.requestedBy };
    const task: PendingTask = { opening, clause, completion, settled: false, notices: 0 };
    this.pending.set(opening.id, task);
    return task;
  }

  /** The task of `stepKey` the previous run was waiting for, taken back (its row is open already). */
  resume(stepKey: string, completion?: z.ZodType): PendingTask | undefined {
    const carried = this.carried.get(stepKey);
    if (!carried) return undefined;
    this.carried.delete(stepKey);
    const task: PendingTask = { opening: carried.opening, clause: carried.clause, completion, settled: false, notices: carried.notices };
    this.pending.set(task.opening.id, task);
    return task;
  }

  forget(task: PendingTask): void {
    this.pending.delete(task.opening.id);
  }

  openTaskIds(): string[] {
    return [...this.pending.values()].filter((t) => !t.settled).map((t) => t.opening.id);
  }

  carry(): InboxCarry {
    const pending = [...this.pending.values()].filter((t) => !t.settled).map((t) => ({ opening: t.opening, clause: t.clause, notices: t.notices }));
    return { pending, outcomes: [...this.outcomes.values()].slice(-OUTCOMES_CARRIED) };
  }

  takeBack(carry: InboxCarry): void {
    for (const t of carry.pending) this.carried.set(t.opening.stepKey, t);
    for (const o of carry.outcomes) this.outcomes.set(o.taskId, o);
  }

  /** Carried tasks no step took back (the process went another way): cancelled with the end. */
  unclaimedCarriedIds(): string[] {
    return [...this.carried.values()].map((t) => t.opening.id);
  }

  /**
   * Runs in the update validator: a refusal leaves the workflow untouched and is typed
   * `CompletionRefused`, so the API tells it from an outcome it cannot know.
   */
  validate(c: TaskCompletion): void {
    const settled = this.outcomes.get(c.taskId);
    if (settled) {
      // A redelivery of the accepted completion (after continue-as-new the update id is new to this run).
      if (settled.userId === c.userId) return;
      throw refused(`task ${c.taskId} was completed already`);
    }
    const task = this.pending.get(c.taskId);
    if (!task || task.answer) throw refused(`task ${c.taskId} is not open in this process`);
    const verdict = mayAcceptCompletion(task.opening, c, this.requestedBy);
    if (!verdict.ok) throw refused(verdict.reason);
    if (task.completion) {
      const parsed = task.completion.safeParse(c.payload ?? {});
      if (!parsed.success) {
        const fields = parsed.error.issues.map((i) => `${['payload', ...i.path].join('.')}: ${i.message}`);
        throw refused(`invalid payload: ${fields.join('; ')}`);
      }
    }
  }

  /** Durable runs: the answer is workflow state at once; the row and the journal follow with the next write. */
  accept(c: TaskCompletion): TaskCompleted {
    const known = this.outcomes.get(c.taskId);
    if (known) return { taskId: known.taskId, status: known.status, completedBy: known.completedBy, at: known.at };
    const task = this.answer(c);
    const at = nowIso();
    this.journal.defer({ settleTasks: [{ taskId: c.taskId, status: 'done', completedBy: c.userId, at }] });
    task.settled = true;
    return this.settled(c, at);
  }

  /** Runs recorded before durable writes settled the row from the handler, with a local activity. */
  async acceptLegacy(c: TaskCompletion): Promise<TaskCompleted> {
    const task = this.answer(c);
    const at = nowIso();
    await this.journal.write({ settleTasks: [{ taskId: c.taskId, status: 'done', completedBy: c.userId, at }] });
    task.settled = true;
    return this.settled(c, at);
  }

  private answer(c: TaskCompletion): PendingTask {
    const task = this.pending.get(c.taskId);
    if (!task) throw new Error(`task ${c.taskId} vanished`); // unreachable: validated above
    task.answer = c;
    this.journal.append({
      stepKey: task.opening.stepKey,
      event: `task.${eventOf(task.opening.kind, c.decision)}`,
      partyId: c.partyId,
      actor: `user:${c.userId}`,
      clause: task.clause,
      data: { taskId: c.taskId, kind: task.opening.kind, decision: c.decision, comment: c.comment, payload: c.payload },
    });
    return task;
  }

  private settled(c: TaskCompletion, at: string): TaskCompleted {
    this.accepted++;
    const outcome: TaskCompleted = { taskId: c.taskId, status: 'done', completedBy: c.userId, at };
    this.outcomes.set(c.taskId, { ...outcome, userId: c.userId });
    return outcome;
  }
}

/** approved/rejected for approvals, signed/declined for signatures, completed otherwise. */
function eventOf(kind: TaskOpening['kind'], decision: string | undefined): string {
  if (kind === 'approve') return decision === 'approve' ? 'approved' : 'rejected';
  if (kind === 'sign') return decision === 'approve' ? 'signed' : 'declined';
  return 'completed';
}

function refused(message: string): wf.ApplicationFailure {
  return wf.ApplicationFailure.nonRetryable(message, 'CompletionRefused');
}
