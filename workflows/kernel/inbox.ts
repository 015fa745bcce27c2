// The process's tasks (docs/ARCHITECTURE.md "Human tasks"): a task is a row in the inbox and
// a pending entry here, answered through the completeTask update. The update handler only
// changes workflow state; the row is settled by the API once the update's result is durable,
// and by the process's next write, which carries the journal entry.
import * as wf from '@temporalio/workflow';
import { z } from 'zod';
import type { TaskOpening } from '../../activities/engine';
import { SIGN_CLIENT, SIGN_PROVIDER } from '../../domain/contract-proposal';
import { fieldsOutsideBareCompletion, mayAcceptCompletion, mayAssignTask } from '../../domain/authorization';
import { approvalActOf, assignmentActOf, completionActOf, contractSignatureActOf, isUnverified, partySignatureRefusal, verifyAct, type ApprovalAct, type ContractSignatureAct, type Signers } from '../../domain/signatures';
import type { CompletionRefusalDetails, TaskAssigned, TaskAssignment, TaskCompleted, TaskCompletion } from '../definitions';
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
  /** The user of its party it is assigned to (assignTask): the only one whose completion is accepted. */
  assignee?: string;
}

/** A task waiting across continue-as-new: its row stays open, the new run waits for it. */
export interface TaskCarry {
  opening: TaskOpening;
  clause: string;
  notices: number;
  assignee?: string;
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
  /** Keys signed completions are checked with (workflows/signed-acts.ts); unset in runs recorded before. */
  signers?: Signers;

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
  resume(stepKey: string, completion?: z.ZodType, kind?: TaskOpening['kind']): PendingTask | undefined {
    const carried = this.carried.get(stepKey);
    if (!carried || (kind !== undefined && carried.opening.kind !== kind)) return undefined;
    this.carried.delete(stepKey);
    const task: PendingTask = { opening: carried.opening, clause: carried.clause, completion, settled: false, notices: carried.notices, ...(carried.assignee !== undefined && { assignee: carried.assignee }) };
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
    const pending = [...this.pending.values()].filter((t) => !t.settled).map((t) => ({ opening: t.opening, clause: t.clause, notices: t.notices, ...(t.assignee !== undefined && { assignee: t.assignee }) }));
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
    // docs/ARCHITECTURE.md "Trust boundaries": only what this deployment sent for this process, signed.
    if (isUnverified(c)) throw refused(`completion not encrypted by this deployment for this process (${c.reason})`);
    if (this.signers && this.signers.deployment.length > 0) {
      const verdict = verifyAct(completionActOf(c, this.processId), c.attestation, this.signers.deployment);
      if (!verdict.ok) throw refused(verdict.reason);
    }
    const settled = this.outcomes.get(c.taskId);
    if (settled) {
      // A redelivery of the accepted completion (after continue-as-new the update id is new to this run).
      if (settled.userId === c.userId) return;
      throw refused(`task ${c.taskId} was completed already`);
    }
    const task = this.pending.get(c.taskId);
    if (!task || task.answer) throw refused(`task ${c.taskId} is not open in this process`);
    const verdict = mayAcceptCompletion({ ...task.opening, ...(task.assignee !== undefined && { assignee: task.assignee }) }, c, this.requestedBy);
    if (!verdict.ok) throw refused(verdict.reason);
    // A party that registered its own signing keys signs its approvals and its contract
    // signatures itself: the provider, which runs the API, cannot make them.
    if ((task.opening.kind === 'approve' || task.opening.kind === 'sign') && this.signers) {
      const refusal = partySignatureRefusal(this.signers.parties[task.opening.partyId], partyActOf(task.opening, c, this.processId), c.clientSignature);
      if (refusal) throw refused(refusal);
    }
    // Evidence is what the step asked for: its schema, strictly; without one, a decision and a comment only.
    const fields = task.completion ? schemaErrors(task.completion, c.payload ?? {}) : fieldsOutsideBareCompletion(c);
    if (fields.length > 0) throw refused(`invalid completion: ${fields.map((f) => `${f.path}: ${f.message}`).join('; ')}`, { fields });
  }

  /** The assignTask update's validator: an open task of the assigner's party; never an approval to its requester. */
  validateAssignment(a: TaskAssignment): void {
    if (isUnverified(a)) throw refused(`assignment not encrypted by this deployment for this process (${a.reason})`);
    if (this.signers && this.signers.deployment.length > 0) {
      const verdict = verifyAct(assignmentActOf(a, this.processId), a.attestation, this.signers.deployment);
      if (!verdict.ok) throw refused(verdict.reason);
    }
    const task = this.pending.get(a.taskId);
    if (!task || task.answer || task.settled) throw refused(`task ${a.taskId} is not open in this process`);
    if (a.partyId !== task.opening.partyId) throw refused(`task ${a.taskId} is assigned to party ${task.opening.partyId}`);
    const verdict = mayAssignTask({ taskId: a.taskId, kind: task.opening.kind, assignee: a.assigneeUserId, requestedBy: this.requestedBy });
    if (!verdict.ok) throw refused(verdict.reason);
  }

  /** Workflow state and a journal entry (written with the next write); the API then sets the row's assignee. */
  assign(a: TaskAssignment): TaskAssigned {
    const task = this.pending.get(a.taskId);
    if (!task) throw new Error(`task ${a.taskId} vanished`); // unreachable: validated above
    const from = task.assignee ?? null;
    task.assignee = a.assigneeUserId;
    this.journal.append({
      stepKey: task.opening.stepKey,
      event: 'task.reassigned',
      partyId: a.partyId,
      actor: `user:${a.userId}`,
      clause: task.clause,
      data: { taskId: a.taskId, kind: task.opening.kind, from, to: a.assigneeUserId },
    });
    return { taskId: a.taskId, assigneeUserId: a.assigneeUserId, at: nowIso() };
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
      data: { taskId: c.taskId, kind: task.opening.kind, decision: c.decision, comment: c.comment, payload: c.payload, ...(c.clientSignature && { clientSignature: c.clientSignature }) },
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

function refused(message: string, details?: CompletionRefusalDetails): wf.ApplicationFailure {
  return wf.ApplicationFailure.create({ message, type: 'CompletionRefused', nonRetryable: true, ...(details && { details: [details] }) });
}

/**
 * The payload against the step's schema, strictly: an object schema that would strip unknown
 * fields refuses them instead, so nothing outside the schema becomes evidence.
 */
function schemaErrors(schema: z.ZodType, payload: Record<string, unknown>): { path: string; message: string }[] {
  const strict = schema instanceof z.ZodObject ? schema.strict() : schema;
  const parsed = strict.safeParse(payload);
  if (parsed.success) return [];
  return parsed.error.issues.flatMap((i) => {
    const at = ['payload', ...i.path.map(String)];
    // An unknown field is named itself, so the caller sees which one to drop.
    if (i.code === 'unrecognized_keys') return i.keys.map((k) => ({ path: [...at, k].join('.'), message: 'not a field of this step' }));
    return [{ path: at.join('.'), message: i.message }];
  });
}

const CONTRACT_SIGNATURE_STEPS = new Set([SIGN_PROVIDER, SIGN_CLIENT]);

/**
 * What a party's own key signs: a contract version's document (a signature task that names one,
 * domain/contract-proposal.ts), else the approval itself (approvals, transition and exit sign-offs).
 */
function partyActOf(opening: TaskOpening, c: TaskCompletion, processId: string): ApprovalAct | ContractSignatureAct {
  const d = opening.payload as { contractId?: unknown; version?: unknown; documentSha256?: unknown };
  // Only the two signatures of a version sign its document: a transition or exit sign-off is an
  // approval of its own task, so a contract signature journaled earlier can never pass for one.
  if (opening.kind === 'sign' && CONTRACT_SIGNATURE_STEPS.has(opening.stepKey) && typeof d.contractId === 'string' && typeof d.version === 'number' && typeof d.documentSha256 === 'string') {
    return contractSignatureActOf({ contractId: d.contractId, version: d.version, documentHash: d.documentSha256, userId: c.userId, partyId: c.partyId, decision: c.decision ?? 'approve' });
  }
  return approvalActOf(c, processId);
}

/** approved/rejected for approvals, signed/declined for signatures, completed otherwise. */
function eventOf(kind: TaskOpening['kind'], decision: string | undefined): string {
  if (kind === 'approve') return decision === 'approve' ? 'approved' : 'rejected';
  if (kind === 'sign') return decision === 'approve' ? 'signed' : 'declined';
  return 'completed';
}
