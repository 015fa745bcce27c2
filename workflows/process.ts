// The frame every process runs in: loads its contract slice, numbers and buffers its
// journal, owns its pending tasks (answered through the completeTask update), and
// records how it ended. Steps themselves live in step.ts.
import * as wf from '@temporalio/workflow';
import type { z } from 'zod';
import type { ContractSlice } from '../domain/raci';
import { getProcess, type ProcessDefinition } from '../domain/catalogue';
import type { EngineActivities, JournalInput, OutboxInput, StepRecord, TaskOpening } from '../activities/engine';
import {
  agentJobPickedUpSignal,
  cancelProcessSignal,
  completeTaskUpdate,
  processStateQuery,
  type ProcessStart,
  type ProcessState,
  type TaskCompleted,
  type TaskCompletion,
} from './definitions';
import { MandateStatus } from './search-attributes';

// Journal writes are local activities: one per transition batch, no extra round trip.
const local = wf.proxyLocalActivities<EngineActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '200ms', maximumInterval: '10s' },
});

export interface PendingTask {
  opening: TaskOpening;
  clause: string;
  /** Validates what a person submits; checked by the update validator. */
  completion?: z.ZodType;
  answer?: TaskCompletion;
  settled: boolean;
}

export class ProcessRun {
  readonly processId = wf.workflowInfo().workflowId;
  readonly state: ProcessState;
  private seq = 0;
  private buffered: JournalInput[] = [];
  /** Effects a finished step left to be written with the next write (see defer). */
  private deferred: Omit<StepRecord, 'processId' | 'entries'> = {};
  private readonly pending = new Map<string, PendingTask>();
  /** Agent jobs waiting for a result: job id → the agent that took it last. */
  readonly jobs = new Map<string, { agentId?: string }>();

  constructor(readonly start: ProcessStart, readonly slice: ContractSlice) {
    this.state = {
      processId: this.processId,
      processType: start.processType,
      contractId: start.contractId,
      contractVersion: start.version,
      status: 'running',
      steps: [],
    };
  }

  /** Queues a journal entry; it is written with the next record() call. */
  journal(entry: Omit<JournalInput, 'seq' | 'at'>): void {
    this.buffered.push({ ...entry, seq: ++this.seq, at: nowIso() });
  }

  /** Writes buffered entries, deferred effects and the given ones in one local activity (one transaction). */
  async record(effects: Omit<StepRecord, 'processId' | 'entries'> = {}): Promise<void> {
    await local.recordStep(this.take(effects));
  }

  /**
   * Keeps a finished step's effects for the next write instead of a write of their own:
   * the next engine action writes them in its own transaction before it acts, a task
   * opening or the end of the process writes them with its record. Evidence is never
   * lost: a replay rebuilds the same entries, and every write is idempotent.
   */
  defer(effects: Omit<StepRecord, 'processId' | 'entries'>): void {
    this.deferred = mergeEffects(this.deferred, effects);
  }

  /** Everything not yet written, as one record; the caller must write it. */
  take(effects: Omit<StepRecord, 'processId' | 'entries'> = {}): StepRecord {
    const record: StepRecord = { processId: this.processId, entries: this.buffered, ...mergeEffects(this.deferred, effects) };
    this.buffered = [];
    this.deferred = {};
    return record;
  }

  newTask(spec: Omit<TaskOpening, 'id' | 'processId' | 'requestedBy'>, clause: string, completion?: z.ZodType): PendingTask {
    const opening: TaskOpening = { ...spec, id: `tsk_${wf.uuid4()}`, processId: this.processId, requestedBy: this.start.requestedBy.userId };
    const task: PendingTask = { opening, clause, completion, settled: false };
    this.pending.set(opening.id, task);
    return task;
  }

  forget(task: PendingTask): void {
    this.pending.delete(task.opening.id);
  }

  openTaskIds(): string[] {
    return [...this.pending.values()].filter((t) => !t.settled).map((t) => t.opening.id);
  }

  /** Runs in the update validator: a rejection leaves the workflow untouched. */
  validateCompletion(c: TaskCompletion): void {
    const task = this.pending.get(c.taskId);
    if (!task || task.answer) throw new Error(`task ${c.taskId} is not open in this process`);
    if (c.partyId !== task.opening.partyId) throw new Error(`task ${c.taskId} is assigned to party ${task.opening.partyId}`);
    if (task.opening.kind === 'approve') {
      if (!c.roles.includes('approver')) throw new Error('an approval needs the approver role');
      if (c.userId === this.start.requestedBy.userId) throw new Error('four-eyes: the user who requested the process cannot approve it');
      if (c.decision !== 'approve' && c.decision !== 'reject') throw new Error('decision must be "approve" or "reject"');
    } else {
      if (!c.roles.some((r) => r === 'operator' || r === 'approver' || r === 'admin')) throw new Error('completing a task needs the operator role');
      if (c.decision !== undefined) throw new Error('decision applies to approval tasks only');
    }
    if (task.completion) {
      const parsed = task.completion.safeParse(c.payload ?? {});
      if (!parsed.success) {
        const fields = parsed.error.issues.map((i) => `${['payload', ...i.path].join('.')}: ${i.message}`);
        throw new Error(`invalid payload: ${fields.join('; ')}`);
      }
    }
  }

  async acceptCompletion(c: TaskCompletion): Promise<TaskCompleted> {
    const task = this.pending.get(c.taskId);
    if (!task) throw new Error(`task ${c.taskId} vanished`); // unreachable: validated above
    task.answer = c;
    const at = nowIso();
    this.journal({
      stepKey: task.opening.stepKey,
      event: `task.${task.opening.kind === 'approve' ? (c.decision === 'approve' ? 'approved' : 'rejected') : 'completed'}`,
      partyId: c.partyId,
      actor: `user:${c.userId}`,
      clause: task.clause,
      data: { taskId: c.taskId, kind: task.opening.kind, decision: c.decision, comment: c.comment, payload: c.payload },
    });
    await this.record({ settleTasks: [{ taskId: c.taskId, status: 'done', completedBy: c.userId, at }] });
    task.settled = true;
    return { taskId: c.taskId, status: 'done', completedBy: c.userId, at };
  }
}

function mergeEffects(a: Omit<StepRecord, 'processId' | 'entries'>, b: Omit<StepRecord, 'processId' | 'entries'>): Omit<StepRecord, 'processId' | 'entries'> {
  const merged: Omit<StepRecord, 'processId' | 'entries'> = {};
  const openTasks = [...(a.openTasks ?? []), ...(b.openTasks ?? [])];
  const offerJobs = [...(a.offerJobs ?? []), ...(b.offerJobs ?? [])];
  const withdrawJobs = [...(a.withdrawJobs ?? []), ...(b.withdrawJobs ?? [])];
  const settleTasks = [...(a.settleTasks ?? []), ...(b.settleTasks ?? [])];
  const outbox = [...(a.outbox ?? []), ...(b.outbox ?? [])];
  if (openTasks.length) merged.openTasks = openTasks;
  if (settleTasks.length) merged.settleTasks = settleTasks;
  if (outbox.length) merged.outbox = outbox;
  if (offerJobs.length) merged.offerJobs = offerJobs;
  if (withdrawJobs.length) merged.withdrawJobs = withdrawJobs;
  if (a.process || b.process) merged.process = { ...a.process, ...b.process };
  return merged;
}

// Workflow time: the SDK replays `Date` deterministically inside the sandbox.
export function nowMs(): number {
  return new Date().getTime();
}

export function nowIso(): string {
  return new Date().toISOString();
}

/**
 * Runs a process body inside the common frame. The body gets the validated input.
 * Business failures are ApplicationFailures; they are journaled before the workflow fails.
 */
export async function runProcess<I, O>(
  start: ProcessStart,
  definition: ProcessDefinition,
  body: (run: ProcessRun, input: I) => Promise<O>,
): Promise<O> {
  const slice = await local.loadContractSlice({ contractId: start.contractId, version: start.version, activityKeys: activityKeysOf(definition) });
  const run = new ProcessRun(start, slice);
  wf.setHandler(processStateQuery, () => run.state);
  wf.setHandler(agentJobPickedUpSignal, ({ jobId, agentId }) => {
    const job = run.jobs.get(jobId);
    if (job) job.agentId = agentId;
  });
  wf.setHandler(completeTaskUpdate, (c) => run.acceptCompletion(c), { validator: (c) => run.validateCompletion(c) });

  run.journal({
    event: 'process.started',
    partyId: start.requestedBy.partyId,
    actor: `user:${start.requestedBy.userId}`,
    data: { processType: start.processType, businessKey: start.businessKey, contractVersion: start.version },
  });
  // The API signals who cancels and why, then asks Temporal to cancel the run.
  let cancelled: { reason: string; userId: string; partyId: string } | undefined;
  wf.setHandler(cancelProcessSignal, (request) => {
    cancelled ??= request;
  });
  try {
    // The API validated the input already; this guards starts that bypass it (CLI, schedules).
    const input = definition.input.safeParse(start.input);
    if (!input.success) {
      throw wf.ApplicationFailure.nonRetryable(`invalid input: ${input.error.issues.map((i) => i.path.join('.') + ' ' + i.message).join('; ')}`, 'InvalidInput');
    }
    const result = await body(run, input.data as I);
    await finish(run, 'completed');
    return result;
  } catch (err) {
    if (wf.isCancellation(err)) {
      if (cancelled) {
        run.journal({ event: 'process.cancel-requested', partyId: cancelled.partyId, actor: `user:${cancelled.userId}`, data: { reason: cancelled.reason } });
      }
      await wf.CancellationScope.nonCancellable(() => finish(run, 'cancelled', cancelled?.reason));
    } else if (err instanceof wf.ApplicationFailure) {
      await finish(run, 'failed', err.message);
    }
    throw err;
  }
}

/** The keys of a process and of every process it may start: what its slice must hold. */
function activityKeysOf(definition: ProcessDefinition): string[] {
  const keys = new Set<string>();
  const seen = new Set<string>();
  const visit = (d: ProcessDefinition) => {
    if (seen.has(d.key)) return;
    seen.add(d.key);
    d.activityKeys.forEach((k) => keys.add(k));
    for (const next of d.starts) {
      const started = getProcess(next);
      if (started) visit(started);
    }
  };
  visit(definition);
  return [...keys];
}

async function finish(run: ProcessRun, status: 'completed' | 'failed' | 'cancelled', reason?: string): Promise<void> {
  run.state.status = status;
  run.state.currentStep = undefined;
  const open = run.openTaskIds();
  const jobs = [...run.jobs.keys()];
  run.journal({ event: `process.${status}`, data: reason ? { reason } : {} });
  const at = nowIso();
  await run.record({
    settleTasks: open.map((taskId) => ({ taskId, status: 'cancelled' as const, at })),
    withdrawJobs: jobs,
    process: { status, currentStep: null, endedAt: at },
  });
  // Wait for in-flight task completions so none is cut off when the run closes.
  await wf.condition(wf.allHandlersFinished);
  wf.upsertSearchAttributes([{ key: MandateStatus, value: status }]);
}

export type { OutboxInput };
