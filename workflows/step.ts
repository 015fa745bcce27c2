// The step primitive (DESIGN.md "The step primitive"): resolve who does what from the
// contract, consult C, get A's approval, have R execute, inform I, journal each transition.
import * as wf from '@temporalio/workflow';
import type { z } from 'zod';
import { resolveStep, type ResolvedStep } from '../domain/raci';
import { deadlineAt, deadlineMs } from '../domain/deadline';
import type { AgentJobOffer, EngineActivities, OutboxInput } from '../activities/engine';
import type { StepOutcome } from './definitions';
import { nowIso, nowMs, type PendingTask, type ProcessRun } from './process';

const engine = wf.proxyActivities<EngineActivities>({
  startToCloseTimeout: '10m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 5 },
});

/** A finished step's journal goes out with the next write (see ProcessRun.defer). */
export const PATCH_DEFERRED_STEP_END = 'deferred-step-end';

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
  /** The requester already did this step by starting the process (when R is their party). */
  doneByRequester?: boolean;
  /**
   * Tells apart two executions of one activity key on one asset in a process (a runbook
   * step used twice, a rollback after a patch): part of the action's idempotency key.
   */
  occurrence?: string;
}

/** process + step (+ asset, + occurrence): the same on every attempt, so an action never acts twice. */
function effectKeyOf(run: ProcessRun, step: ResolvedStep, spec: StepSpec): string {
  return [run.processId, step.activityKey, spec.asset, spec.occurrence].filter((p) => p !== undefined).join(':');
}

export interface StepResult {
  outcome: StepOutcome;
  output?: unknown;
  completedBy?: string;
  reason?: string;
  consulted: { partyId: string; answer?: unknown }[];
}

export async function runStep(run: ProcessRun, stepKey: string, spec: StepSpec): Promise<StepResult> {
  run.activeSteps++;
  try {
    return await runStepOnce(run, stepKey, spec);
  } finally {
    run.activeSteps--;
  }
}

async function runStepOnce(run: ProcessRun, stepKey: string, spec: StepSpec): Promise<StepResult> {
  const resolved = resolveStep(run.slice, stepKey, spec.asset ? { asset: spec.asset } : {});
  if (!resolved.ok) throw wf.ApplicationFailure.nonRetryable(`${stepKey}: ${resolved.message}`, 'StepNotCovered');
  const step = resolved.step;
  const startedAt = nowMs();
  // Computed once, when the step starts, in the row's calendar (business days count there).
  const dueAt = step.options.due ? deadlineAt(run.slice, startedAt, step.options.due, step.options.calendar) : undefined;
  const hardAt = step.options.hardDeadline ? deadlineAt(run.slice, startedAt, step.options.hardDeadline, step.options.calendar) : undefined;
  run.state.currentStep = {
    stepKey,
    clause: step.clause,
    responsibleParty: step.responsible.party,
    phase: 'consulting',
    startedAt: new Date(startedAt).toISOString(),
    dueAt: dueAt === undefined ? undefined : new Date(dueAt).toISOString(),
    hardDeadlineAt: hardAt === undefined ? undefined : new Date(hardAt).toISOString(),
    openTaskIds: [],
  };
  run.journal({
    stepKey,
    event: 'step.started',
    partyId: step.responsible.party,
    clause: step.clause,
    data: { responsible: step.responsible, accountable: step.accountable, consulted: step.consulted, informed: step.informed, asset: spec.asset },
  });

  const consulted = step.consulted.length > 0 ? await consult(run, step, spec) : [];

  if (step.options.approvalRequired) {
    setPhase(run, 'approving');
    const approval = await approve(run, step, spec, { dueAt, hardAt });
    if (approval !== 'approve') return conclude(run, step, { outcome: 'rejected', reason: approval, consulted });
  }

  setPhase(run, 'executing');
  const executed = await execute(run, step, spec, { dueAt, hardAt });
  return conclude(run, step, { ...executed, consulted });
}

function setPhase(run: ProcessRun, phase: 'consulting' | 'approving' | 'executing' | 'informing'): void {
  if (run.state.currentStep) {
    run.state.currentStep.phase = phase;
    run.state.currentStep.openTaskIds = run.openTaskIds();
  }
}

/** C parties get a task each; answers are passed on, silence by the deadline is journaled. */
async function consult(run: ProcessRun, step: ResolvedStep, spec: StepSpec): Promise<StepResult['consulted']> {
  const within = Math.max(1, deadlineAt(run.slice, nowMs(), step.options.consultWithin ?? 'P1BD', step.options.calendar) - nowMs());
  const tasks = step.consulted.map((partyId) =>
    run.newTask({ kind: 'consult', stepKey: step.activityKey, partyId, title: `Consulted: ${spec.title}`, payload: spec.details ?? {}, dueAt: inMs(within), hardDeadlineAt: inMs(within) }, step.clause),
  );
  await run.record({ openTasks: tasks.map((t) => t.opening), process: { currentStep: step.activityKey } });
  setPhase(run, 'consulting');
  await wf.condition(() => tasks.every((t) => t.settled), within);
  const unanswered = tasks.filter((t) => !t.settled);
  for (const t of unanswered) {
    run.forget(t);
    run.journal({ stepKey: step.activityKey, event: 'consult.unanswered', partyId: t.opening.partyId, clause: step.clause, data: { taskId: t.opening.id } });
  }
  if (unanswered.length > 0) {
    await run.record({ settleTasks: unanswered.map((t) => ({ taskId: t.opening.id, status: 'expired' as const, at: nowIso() })) });
  }
  return tasks.map((t) => ({ partyId: t.opening.partyId, answer: t.answer?.payload ?? t.answer?.comment }));
}

/** A's approval: four-eyes is enforced by the update validator; timing out means rejection. */
async function approve(run: ProcessRun, step: ResolvedStep, spec: StepSpec, deadlines: Deadlines): Promise<'approve' | string> {
  const task = run.newTask(
    { kind: 'approve', stepKey: step.activityKey, partyId: step.accountable, title: `Approve: ${spec.title}`, payload: { ...spec.details, responsible: step.responsible }, dueAt: iso(deadlines.dueAt), hardDeadlineAt: iso(deadlines.hardAt) },
    step.clause,
  );
  const answered = await waitForTask(run, step, task, deadlines);
  if (!answered) return 'approval timed out: treated as a rejection';
  return task.answer?.decision === 'approve' ? 'approve' : `rejected by ${task.answer?.userId ?? 'unknown'}`;
}

async function execute(run: ProcessRun, step: ResolvedStep, spec: StepSpec, deadlines: Deadlines): Promise<Omit<StepResult, 'consulted'>> {
  const r = step.responsible;
  switch (r.by) {
    case 'engine': {
      const idempotencyKey = effectKeyOf(run, step, spec);
      try {
        // The engine activity first writes what earlier steps left (one transaction), then acts.
        const carried = run.carry();
        let output: unknown;
        try {
          output = await engine.runEngineAction({ action: r.action ?? '', params: spec.params ?? {}, idempotencyKey, record: carried });
        } catch (err) {
          if (carried) run.restore(carried);
          throw err;
        }
        run.journal({ stepKey: step.activityKey, event: 'step.executed', partyId: r.party, actor: `engine:${r.action}`, clause: step.clause, data: { output } });
        return { outcome: 'done', output };
      } catch (err) {
        if (wf.isCancellation(err)) throw err;
        const reason = failureReason(err);
        run.journal({ stepKey: step.activityKey, event: 'step.failed', partyId: r.party, actor: `engine:${r.action}`, clause: step.clause, data: { reason } });
        return { outcome: 'failed', reason };
      }
    }
    case 'person': {
      if (spec.doneByRequester && run.start.requestedBy.partyId === r.party) {
        run.journal({ stepKey: step.activityKey, event: 'step.executed', partyId: r.party, actor: `user:${run.start.requestedBy.userId}`, clause: step.clause, data: { by: 'requester' } });
        return { outcome: 'done', completedBy: run.start.requestedBy.userId };
      }
      const task = run.newTask(
        { kind: 'execute', stepKey: step.activityKey, partyId: r.party, team: r.team, title: spec.title, payload: spec.details ?? {}, dueAt: iso(deadlines.dueAt), hardDeadlineAt: iso(deadlines.hardAt) },
        step.clause,
        spec.completion,
      );
      const answered = await waitForTask(run, step, task, deadlines);
      if (!answered) return { outcome: 'expired', reason: 'hard deadline passed without completion' };
      return { outcome: 'done', output: task.answer?.payload, completedBy: task.answer?.userId };
    }
    case 'agent':
      return executeByAgent(run, step, spec, deadlines);
  }
}

const DEFAULT_PICKUP = 'PT5M';
const DEFAULT_HEARTBEAT = 'PT1M';

/**
 * R's own agent does the step (DESIGN.md "Agents"): the job is offered through the API; the
 * agent's pickup is a signal raced against the pickup deadline (late: R and A are told);
 * after pickup the engine activity waits for the result with the agent's heartbeats relayed
 * by the API, so an agent that dies mid-job times out and the job is offered again.
 */
async function executeByAgent(run: ProcessRun, step: ResolvedStep, spec: StepSpec, { hardAt }: Deadlines): Promise<Omit<StepResult, 'consulted'>> {
  const r = step.responsible;
  const pickupMs = deadlineMs(step.options.pickupWithin ?? DEFAULT_PICKUP);
  const job: AgentJobOffer = {
    id: `job_${wf.uuid4()}`,
    processId: run.processId,
    stepKey: step.activityKey,
    partyId: r.party,
    action: r.action ?? '',
    params: spec.params ?? {},
    idempotencyKey: effectKeyOf(run, step, spec),
    pickupDeadlineAt: new Date(nowMs() + pickupMs).toISOString(),
  };
  run.jobs.set(job.id, {});
  const taken = () => run.jobs.get(job.id)?.agentId !== undefined;
  await run.record({ offerJobs: [job], process: { currentStep: step.activityKey } });
  run.holdBy(r.party);
  // No agent by the pickup deadline: R and A are told, then R's escalation levels follow.
  const pickedUp = await waitWithEscalation(run, step, taken, { dueAt: nowMs() + pickupMs, hardAt }, { holder: r.party, jobId: job.id }, { event: 'agent.not-picked-up', notify: [r.party, step.accountable] });
  if (!pickedUp) {
    run.holdBy(run.providerId);
    run.jobs.delete(job.id);
    run.journal({ stepKey: step.activityKey, event: 'step.failed', partyId: r.party, clause: step.clause, data: { reason: 'no agent took the job by the hard deadline', jobId: job.id } });
    await run.record({ withdrawJobs: [job.id] });
    return { outcome: 'expired', reason: 'no agent took the job by the hard deadline' };
  }
  run.journal({ stepKey: step.activityKey, event: 'agent.picked-up', partyId: r.party, actor: `agent:${run.jobs.get(job.id)?.agentId}`, clause: step.clause, data: { jobId: job.id } });
  const agent = wf.proxyActivities<EngineActivities>({
    heartbeatTimeout: deadlineMs(step.options.heartbeatWithin ?? DEFAULT_HEARTBEAT),
    startToCloseTimeout: hardAt === undefined ? '7 days' : Math.max(1000, hardAt - nowMs()),
    retry: { initialInterval: '1s', maximumInterval: '30s', maximumAttempts: 5 },
  });
  try {
    const carried = run.carry();
    const output = await agent.awaitAgentResult({ jobId: job.id, record: carried }).catch((err: unknown) => {
      if (carried) run.restore(carried);
      throw err;
    });
    run.holdBy(run.providerId);
    // The agent that took the job last (another one may have taken it over after a crash).
    const agentId = run.jobs.get(job.id)?.agentId;
    run.jobs.delete(job.id);
    run.journal({ stepKey: step.activityKey, event: 'step.executed', partyId: r.party, actor: `agent:${agentId}`, clause: step.clause, data: { jobId: job.id, output } });
    return { outcome: 'done', output };
  } catch (err) {
    if (wf.isCancellation(err)) throw err;
    run.holdBy(run.providerId);
    const reason = failureReason(err);
    run.jobs.delete(job.id);
    run.journal({ stepKey: step.activityKey, event: 'step.failed', partyId: r.party, clause: step.clause, data: { jobId: job.id, reason } });
    await run.record({ withdrawJobs: [job.id] });
    return { outcome: 'failed', reason };
  }
}

interface Deadlines {
  dueAt?: number;
  hardAt?: number;
}

/**
 * Opens the task and waits for its completion. At the due time A is notified (the step is
 * late); at the hard deadline the task expires and the caller gives it its business meaning.
 */
async function waitForTask(run: ProcessRun, step: ResolvedStep, task: PendingTask, { dueAt, hardAt }: Deadlines): Promise<boolean> {
  await run.record({ openTasks: [task.opening], process: { currentStep: step.activityKey } });
  setPhase(run, run.state.currentStep?.phase === 'approving' ? 'approving' : 'executing');
  const holder = task.opening.partyId;
  run.holdBy(holder);
  const settled = () => task.settled;
  const done = await waitWithEscalation(run, step, settled, { dueAt, hardAt }, { holder, taskId: task.opening.id });
  run.holdBy(run.providerId);
  if (done) return true;
  // The task may be mid-completion: its update handler settles it; we stop waiting.
  run.forget(task);
  run.journal({ stepKey: step.activityKey, event: 'task.expired', partyId: holder, clause: step.clause, data: { taskId: task.opening.id, kind: task.opening.kind } });
  await run.record({ settleTasks: [{ taskId: task.opening.id, status: 'expired', at: nowIso() }] });
  return false;
}

/**
 * Waits for `done` until the hard deadline. Past the due time A is told the step is late,
 * then the holder's party is escalated level by level along the contract's escalation
 * matrix (each level's `after` counted from the due time), each level journaled.
 */
async function waitWithEscalation(
  run: ProcessRun,
  step: ResolvedStep,
  done: () => boolean,
  { dueAt, hardAt }: Deadlines,
  about: { holder: string; taskId?: string; jobId?: string },
  late: { event: string; notify: string[] } = { event: 'step.overdue', notify: [step.accountable] },
): Promise<boolean> {
  if (dueAt !== undefined && (hardAt === undefined || dueAt < hardAt)) {
    if (await wf.condition(done, untilMs(dueAt))) return true;
    run.journal({ stepKey: step.activityKey, event: late.event, partyId: about.holder, clause: step.clause, data: { ...about, dueAt: iso(dueAt) } });
    await run.record({ outbox: [...new Set(late.notify)].map((partyId) => notice(run, step, partyId, late.event, { ...about, dueAt: iso(dueAt) })) });
    const levels = [...(run.slice.escalation[about.holder] ?? [])].sort((a, b) => a.level - b.level);
    for (const [i, level] of levels.entries()) {
      const at = deadlineAt(run.slice, dueAt, level.after, step.options.calendar);
      if (hardAt !== undefined && at >= hardAt) break;
      if (await wf.condition(done, untilMs(at))) return true;
      const who = { level: level.level, team: level.team, role: level.role };
      run.journal({ stepKey: step.activityKey, event: 'step.escalated', partyId: about.holder, clause: `escalation/${about.holder}/${i}`, data: { ...about, ...who, dueAt: iso(dueAt) } });
      await run.record({ outbox: [notice(run, step, about.holder, 'step.escalated', { ...about, ...who, dueAt: iso(dueAt) })] });
    }
  }
  if (hardAt !== undefined) return wf.condition(done, untilMs(hardAt));
  await wf.condition(done);
  return true;
}

async function conclude(run: ProcessRun, step: ResolvedStep, result: StepResult): Promise<StepResult> {
  setPhase(run, 'informing');
  const at = nowIso();
  run.journal({ stepKey: step.activityKey, event: 'step.completed', partyId: step.responsible.party, clause: step.clause, data: { outcome: result.outcome, reason: result.reason } });
  const effects = {
    outbox: step.informed.map((partyId) => notice(run, step, partyId, 'step.completed', { outcome: result.outcome })),
    process: { currentStep: null },
  };
  // Runs recorded before this change wrote each step's end with a local activity of its own.
  if (wf.patched(PATCH_DEFERRED_STEP_END)) run.defer(effects);
  else await run.record(effects);
  run.state.steps.push({ stepKey: step.activityKey, outcome: result.outcome, at });
  run.state.currentStep = undefined;
  return result;
}

function notice(run: ProcessRun, step: ResolvedStep, partyId: string, event: string, extra: Record<string, unknown>): OutboxInput {
  return {
    // One notice per party, step occurrence, event (and escalation level): a replayed record writes nothing twice.
    effectKey: `${run.processId}:${step.activityKey}:${run.state.steps.length}:${event}${typeof extra.level === 'number' ? `:${extra.level}` : ''}:${partyId}`,
    partyId,
    event,
    payload: { processId: run.processId, processType: run.start.processType, contractId: run.start.contractId, stepKey: step.activityKey, clause: step.clause, at: nowIso(), ...extra },
  };
}

function failureReason(err: unknown): string {
  if (err instanceof wf.ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}

function inMs(ms: number): string {
  return new Date(nowMs() + ms).toISOString();
}

function untilMs(at: number): number {
  return Math.max(1, at - nowMs());
}

function iso(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}
