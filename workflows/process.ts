// The frame every process runs in: loads its contract slice, numbers and buffers its
// journal, owns its pending tasks (answered through the completeTask update), and
// records how it ended. Steps themselves live in step.ts.
import * as wf from '@temporalio/workflow';
import type { z } from 'zod';
import type { ContractSlice } from '../domain/raci';
import { getProcess, type ProcessDefinition } from '../domain/catalogue';
import { calendarNamed } from '../domain/deadline';
import { businessKeyFor } from '../domain/schedules';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { pauseClock, resumeClock, sideOf, startClock, stopClock, elapsedBusinessMs, type SlaClockState } from '../domain/sla-clock';
import type { EngineActivities, JournalInput, OutboxInput, SlaRecordInput, StepRecord, TaskOpening } from '../activities/engine';
import {
  agentJobPickedUpSignal,
  cancelProcessSignal,
  completeTaskUpdate,
  processStateQuery,
  type ProcessStart,
  type ProcessState,
  type SlaClockView,
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
  /** Holding work on the provider's side runs its SLA clock again. */
  get providerId(): string {
    return this.slice.parties.find((p) => p.kind === 'provider')?.id ?? '';
  }
  readonly state: ProcessState;
  private seq = 0;
  private buffered: JournalInput[] = [];
  /** Effects a finished step left to be written with the next write (see defer). */
  private deferred: Omit<StepRecord, 'processId' | 'entries'> = {};
  private readonly pending = new Map<string, PendingTask>();
  /** The process's SLA clock, when its process measures one (incidents, test probes). */
  private clock?: SlaClockState;
  private clockPriority?: string;
  private clockCalendar?: string;
  private clockVersion = 0;
  private clockWatch?: Promise<void>;
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

  /** Steps running now: more than one (parallel steps) means writes must not overtake each other. */
  activeSteps = 0;
  private writes: Promise<void> = Promise.resolve();

  /**
   * Writes buffered entries, deferred effects and the given ones in one local activity (one
   * transaction). Writes are chained: an entry's predecessor in the hash chain is always
   * written first, even when parallel steps record at once.
   */
  async record(effects: Omit<StepRecord, 'processId' | 'entries'> = {}): Promise<void> {
    if (!wf.patched(PATCH_CHAINED_WRITES)) {
      await local.recordStep(this.take(effects));
      return;
    }
    const write = this.writes.then(() => local.recordStep(this.take(effects)));
    this.writes = write.catch(() => undefined);
    await write;
  }

  /**
   * What an engine or agent activity may write before it acts, sparing a write of its own:
   * only while one step runs, so no other write can be in flight meanwhile.
   */
  carry(): StepRecord | undefined {
    return this.activeSteps <= 1 ? this.take() : undefined;
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

  /**
   * Puts back a record handed to an activity that may not have written it (cancelled,
   * failed): the next write carries it again, and every part of a write is idempotent.
   */
  restore(record: StepRecord): void {
    this.buffered = [...record.entries, ...this.buffered];
    const { processId: _p, entries: _e, ...effects } = record;
    this.deferred = mergeEffects(effects, this.deferred);
  }

  /** Everything not yet written, as one record; the caller must write it. */
  take(effects: Omit<StepRecord, 'processId' | 'entries'> = {}): StepRecord {
    const record: StepRecord = { processId: this.processId, entries: this.buffered, ...mergeEffects(this.deferred, effects) };
    this.buffered = [];
    this.deferred = {};
    return record;
  }

  /**
   * Starts the process's SLA clock; its deadline is watched until the clock stops.
   * `startedAt` (epoch ms, not in the future) counts from an earlier instant, e.g. when the
   * incident was opened although its priority, and so its target, is known only at triage.
   */
  startClock(input: { name: string; clause: string; target: string; calendar?: string; priority?: string; startedAt?: number }): void {
    this.clock = startClock({ name: input.name, clause: input.clause, target: input.target, calendar: calendarNamed(this.slice, input.calendar), at: Math.min(input.startedAt ?? nowMs(), nowMs()) });
    this.clockPriority = input.priority;
    this.clockCalendar = input.calendar;
    this.journal({ event: 'sla.started', clause: input.clause, data: { clock: input.name, target: input.target, deadlineAt: isoOf(this.clock.deadlineAt) } });
    this.clockChanged();
    this.clockWatch = this.watchClock();
  }

  /**
   * Who holds the work now: the client or a vendor the client contracted stops the clock;
   * the provider or its subcontractors run it.
   */
  holdBy(partyId: string): void {
    const clock = this.clock;
    if (!clock || clock.stoppedAt !== undefined) return;
    const side = sideOf(partyId, this.slice.parties);
    if (side === 'client' && clock.runningSince !== undefined) {
      this.clock = pauseClock(clock, nowMs(), `waiting on ${partyId}`);
      this.journal({ event: 'sla.paused', partyId, clause: clock.clause, data: { clock: clock.name, reason: this.clock.pauseReason, accumulatedMs: this.clock.accumulatedMs } });
      this.clockChanged();
    } else if (side === 'provider' && clock.pausedSince !== undefined) {
      this.clock = resumeClock(clock, nowMs());
      this.journal({ event: 'sla.resumed', partyId, clause: clock.clause, data: { clock: clock.name, deadlineAt: isoOf(this.clock.deadlineAt) } });
      this.clockChanged();
    }
  }

  /** Stops the clock and waits for its watcher; the record of its outcome goes with the next write. */
  async stopClock(): Promise<void> {
    const clock = this.clock;
    if (!clock || clock.stoppedAt !== undefined) return;
    const at = nowMs();
    this.clock = stopClock(clock, at);
    this.journal({ event: 'sla.stopped', clause: clock.clause, data: { clock: clock.name, elapsedMs: this.clock.accumulatedMs, targetMs: clock.targetMs } });
    this.defer({ slaRecords: [this.slaRecord(this.clock)] });
    this.clockChanged();
    await this.clockWatch;
  }

  private clockChanged(): void {
    this.clockVersion++;
    this.state.sla = this.clock && { ...clockView(this.clock), ...(this.clockCalendar ? { calendar: this.clockCalendar } : {}) };
  }

  /** Records the breach once, when the running clock reaches its deadline. */
  private async watchClock(): Promise<void> {
    for (;;) {
      const clock = this.clock;
      if (!clock || clock.stoppedAt !== undefined || clock.breachedAt !== undefined) return;
      const version = this.clockVersion;
      const changed = () => this.clockVersion !== version;
      if (clock.deadlineAt === undefined) {
        await wf.condition(changed);
        continue;
      }
      if (await wf.condition(changed, Math.max(1, clock.deadlineAt - nowMs()))) continue;
      const at = nowMs();
      this.clock = { ...clock, breachedAt: at };
      this.journal({ event: 'sla.breached', clause: clock.clause, data: { clock: clock.name, target: clock.target, elapsedMs: elapsedBusinessMs(clock, at) } });
      await this.record({ slaRecords: [this.slaRecord(this.clock)] });
      this.clockChanged();
    }
  }

  private slaRecord(clock: SlaClockState): SlaRecordInput {
    const until = this.slice.stabilisationUntil;
    return {
      processId: this.processId,
      clock: clock.name,
      contractId: this.start.contractId,
      clause: clock.clause,
      priority: this.clockPriority,
      target: clock.target,
      targetMs: clock.targetMs,
      elapsedMs: clock.stoppedAt !== undefined ? clock.accumulatedMs : undefined,
      breached: clock.breachedAt !== undefined,
      breachedAt: isoOf(clock.breachedAt),
      stoppedAt: isoOf(clock.stoppedAt),
      // No penalties during the stabilisation period (compared by calendar date, in UTC).
      penaltiesApply: until === undefined || new Date(clock.startedAt).toISOString().slice(0, 10) > until,
      startedAt: new Date(clock.startedAt).toISOString(),
    };
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

function isoOf(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}

function clockView(c: SlaClockState): SlaClockView {
  return {
    name: c.name,
    clause: c.clause,
    target: c.target,
    targetMs: c.targetMs,
    startedAt: new Date(c.startedAt).toISOString(),
    accumulatedMs: c.accumulatedMs,
    runningSince: isoOf(c.runningSince),
    pausedSince: isoOf(c.pausedSince),
    pauseReason: c.pauseReason,
    deadlineAt: isoOf(c.deadlineAt),
    breachedAt: isoOf(c.breachedAt),
    stoppedAt: isoOf(c.stoppedAt),
  };
}

function mergeEffects(a: Omit<StepRecord, 'processId' | 'entries'>, b: Omit<StepRecord, 'processId' | 'entries'>): Omit<StepRecord, 'processId' | 'entries'> {
  const merged: Omit<StepRecord, 'processId' | 'entries'> = {};
  const openTasks = [...(a.openTasks ?? []), ...(b.openTasks ?? [])];
  const offerJobs = [...(a.offerJobs ?? []), ...(b.offerJobs ?? [])];
  const slaRecords = [...(a.slaRecords ?? []), ...(b.slaRecords ?? [])];
  const withdrawJobs = [...(a.withdrawJobs ?? []), ...(b.withdrawJobs ?? [])];
  const settleTasks = [...(a.settleTasks ?? []), ...(b.settleTasks ?? [])];
  const outbox = [...(a.outbox ?? []), ...(b.outbox ?? [])];
  if (openTasks.length) merged.openTasks = openTasks;
  if (settleTasks.length) merged.settleTasks = settleTasks;
  if (outbox.length) merged.outbox = outbox;
  if (offerJobs.length) merged.offerJobs = offerJobs;
  if (slaRecords.length) merged.slaRecords = slaRecords;
  if (withdrawJobs.length) merged.withdrawJobs = withdrawJobs;
  if (a.process || b.process) merged.process = { ...a.process, ...b.process };
  return merged;
}

/** Writes wait for the previous one (parallel steps); runs recorded before wrote as they came. */
const PATCH_CHAINED_WRITES = 'chained-writes';

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
  given: ProcessStart,
  definition: ProcessDefinition,
  body: (run: ProcessRun, input: I) => Promise<O>,
): Promise<O> {
  const start = given.businessKey === '' ? await registerScheduledRun(given) : given;
  if (!start) {
    // The period or day already ran (or the contract is not active): nothing to do, no journal.
    return { skipped: true } as O; // a scheduled run's result is read by nobody but operators
  }
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

const TemporalScheduledStartTime = defineSearchAttributeKey('TemporalScheduledStartTime', SearchAttributeType.DATETIME);

/** A scheduled run takes its business key from its scheduled time (Temporal suffixes the workflow id). */
async function registerScheduledRun(start: ProcessStart): Promise<ProcessStart | undefined> {
  const info = wf.workflowInfo();
  const scheduledAt = info.typedSearchAttributes.get(TemporalScheduledStartTime) ?? info.startTime;
  const schedule = start.schedule ?? { name: 'manual', timezone: 'UTC', keyBy: 'time' as const, id: '' };
  const businessKey = businessKeyFor(schedule.name, scheduledAt.toISOString(), start.processType, schedule);
  const registered = await local.registerScheduledRun({ processId: info.workflowId, contractId: start.contractId, processType: start.processType, businessKey, requestedBy: start.requestedBy });
  if (!registered.registered) {
    wf.log.info('scheduled run skipped', { businessKey, reason: registered.reason });
    return undefined;
  }
  return { ...start, businessKey, version: registered.contractVersion };
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
  await run.stopClock();
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
