// The step primitive (docs/ARCHITECTURE.md "The step primitive"): resolve who does what from
// the contract, consult C, get A's approval, have R execute, inform I, journal each transition.
import * as wf from '@temporalio/workflow';
import { resolveStep, type ResolvedStep } from '../domain/raci';
import { deadlineAt } from '../domain/deadline';
import type { EngineActivities, TaskOpening } from '../activities/engine';
import type { PendingTask } from './kernel/inbox';
import type { ProcessRun } from './kernel/run';
import type { JournalEntry } from './kernel/journal';
import { isoOf as iso, nowIso, nowMs, untilMs } from './kernel/time';
import { executeByAgent } from './step-agent';
import { effectKeyOf, failureReason, notice, waitWithEscalation, type Deadlines, type StepResult, type StepSpec } from './step-common';

export type { Deadlines, StepResult, StepSpec } from './step-common';
export { effectKeyOf } from './step-common';

const engineLegacy = wf.proxyActivities<EngineActivities>({
  startToCloseTimeout: '10m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 5 },
});

/**
 * The engine action heartbeats while it runs: a worker that dies mid-action is noticed within
 * the heartbeat timeout and the action retried (same idempotency key) on another worker.
 */
const engine = wf.proxyActivities<EngineActivities>({
  startToCloseTimeout: '10m',
  heartbeatTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 5 },
});

/** A finished step's journal goes out with the next write (see ProcessJournal.defer). */
export const PATCH_DEFERRED_STEP_END = 'deferred-step-end';

export async function runStep(run: ProcessRun, stepKey: string, spec: StepSpec): Promise<StepResult> {
  run.journal.activeSteps++;
  try {
    return await runStepOnce(run, stepKey, spec);
  } finally {
    run.journal.activeSteps--;
  }
}

async function runStepOnce(run: ProcessRun, stepKey: string, spec: StepSpec): Promise<StepResult> {
  const step = resolveOrFail(run, stepKey, spec.asset);
  // A run that continued as new takes back the task the previous run was waiting for.
  const resumed = run.inbox.resume(step.activityKey, spec.completion);
  const startedAt = nowMs();
  // Computed once, when the step starts, in the row's calendar (business days count there).
  const deadlines: Deadlines = resumed
    ? { dueAt: msOf(resumed.opening.dueAt), hardAt: msOf(resumed.opening.hardDeadlineAt) }
    : {
        dueAt: step.options.due ? deadlineAt(run.slice, startedAt, step.options.due, step.options.calendar) : undefined,
        hardAt: step.options.hardDeadline ? deadlineAt(run.slice, startedAt, step.options.hardDeadline, step.options.calendar) : undefined,
      };
  run.state.currentStep = {
    stepKey,
    clause: step.clause,
    responsibleParty: step.responsible.party,
    phase: 'consulting',
    startedAt: new Date(startedAt).toISOString(),
    dueAt: iso(deadlines.dueAt),
    hardDeadlineAt: iso(deadlines.hardAt),
    openTaskIds: [],
  };
  if (!resumed) {
    run.note({
      stepKey,
      event: 'step.started',
      partyId: step.responsible.party,
      clause: step.clause,
      data: { responsible: step.responsible, accountable: step.accountable, consulted: step.consulted, informed: step.informed, asset: spec.asset },
    });
  }

  const consulted = !resumed && step.consulted.length > 0 ? await consultParties(run, step, { title: spec.title, payload: spec.details ?? {} }) : [];

  if (step.options.approvalRequired && resumed?.opening.kind !== 'execute') {
    setPhase(run, 'approving');
    const approval = await approve(run, step, spec, deadlines, resumed);
    if (approval !== 'approve') return conclude(run, step, { outcome: 'rejected', reason: approval, consulted });
  }

  setPhase(run, 'executing');
  const executed = await execute(run, step, spec, deadlines, resumed?.opening.kind === 'execute' ? resumed : undefined);
  return conclude(run, step, { ...executed, consulted });
}

export function resolveOrFail(run: ProcessRun, stepKey: string, asset?: string): ResolvedStep {
  const resolved = resolveStep(run.slice, stepKey, asset ? { asset } : {});
  if (!resolved.ok) throw wf.ApplicationFailure.nonRetryable(`${stepKey}: ${resolved.message}`, 'StepNotCovered');
  return resolved.step;
}

function setPhase(run: ProcessRun, phase: 'consulting' | 'approving' | 'executing' | 'informing'): void {
  if (run.state.currentStep) {
    run.state.currentStep.phase = phase;
    run.state.currentStep.openTaskIds = run.inbox.openTaskIds();
  }
}

/**
 * C parties get a task each (opened in one write); answers are passed on, silence by the
 * deadline is journaled and the step goes on.
 */
export async function consultParties(run: ProcessRun, step: ResolvedStep, about: { title: string; payload: Record<string, unknown> }): Promise<StepResult['consulted']> {
  const until = deadlineAt(run.slice, nowMs(), step.options.consultWithin ?? 'P1BD', step.options.calendar);
  const within = Math.max(1, until - nowMs());
  const tasks = step.consulted.map((partyId) =>
    run.inbox.open({ kind: 'consult', stepKey: step.activityKey, partyId, title: `Consulted: ${about.title}`, payload: about.payload, dueAt: iso(nowMs() + within), hardDeadlineAt: iso(nowMs() + within) }, step.clause),
  );
  await run.journal.write({ openTasks: tasks.map((t) => t.opening), process: { currentStep: step.activityKey } });
  setPhase(run, 'consulting');
  await run.until(() => tasks.every((t) => t.settled), within);
  const unanswered = tasks.filter((t) => !t.settled);
  for (const t of unanswered) {
    run.inbox.forget(t);
    run.note({ stepKey: step.activityKey, event: 'consult.unanswered', partyId: t.opening.partyId, clause: step.clause, data: { taskId: t.opening.id } });
  }
  if (unanswered.length > 0) {
    await run.journal.write({ settleTasks: unanswered.map((t) => ({ taskId: t.opening.id, status: 'expired' as const, at: nowIso() })) });
  }
  return tasks.map((t) => ({ partyId: t.opening.partyId, answer: t.answer?.payload ?? t.answer?.comment }));
}

/** A's approval: four-eyes is enforced by the update validator; timing out means rejection. */
async function approve(run: ProcessRun, step: ResolvedStep, spec: StepSpec, deadlines: Deadlines, resumed?: PendingTask): Promise<'approve' | string> {
  const task =
    resumed ??
    run.inbox.open(
      { kind: 'approve', stepKey: step.activityKey, partyId: step.accountable, title: `Approve: ${spec.title}`, payload: { ...spec.details, responsible: step.responsible }, dueAt: iso(deadlines.dueAt), hardDeadlineAt: iso(deadlines.hardAt) },
      step.clause,
    );
  const answered = await waitForTask(run, step, task, deadlines, { opened: resumed !== undefined });
  if (!answered) return 'approval timed out: treated as a rejection';
  return task.answer?.decision === 'approve' ? 'approve' : `rejected by ${task.answer?.userId ?? 'unknown'}`;
}

export interface DecisionRequest {
  partyId: string;
  team?: string;
  clause: string;
  title: string;
  payload: Record<string, unknown>;
  deadlines: Deadlines;
  /** Journaled once the task exists (it names the task). */
  requested?: (taskId: string) => JournalEntry;
}

/**
 * A decision asked of a party outside the approve-then-execute order of runStep (a change
 * approved now and carried out later, a rollback that loses data): an approval task with the
 * step's lateness notices and escalation; no answer by the hard deadline returns undefined.
 */
export async function askDecision(run: ProcessRun, step: ResolvedStep, request: DecisionRequest): Promise<PendingTask | undefined> {
  const { dueAt, hardAt } = request.deadlines;
  // A run that continued as new takes back the decision the previous run was waiting for.
  const resumed = run.journal.isDurable ? run.inbox.resume(step.activityKey, undefined, 'approve') : undefined;
  const task =
    resumed ??
    run.inbox.open(
      { kind: 'approve', stepKey: step.activityKey, partyId: request.partyId, ...(request.team !== undefined && { team: request.team }), title: request.title, payload: request.payload, dueAt: iso(dueAt), hardDeadlineAt: iso(hardAt) },
      request.clause,
    );
  if (request.requested && !resumed) run.note(request.requested(task.opening.id));
  if (!run.journal.isDurable) return (await waitForDecisionLegacy(run, task, request.clause, request.deadlines)) ? task : undefined;
  const deadlines = resumed ? { dueAt: msOf(resumed.opening.dueAt), hardAt: msOf(resumed.opening.hardDeadlineAt) } : request.deadlines;
  const answered = await waitForTask(run, { ...step, clause: request.clause }, task, deadlines, { opened: resumed !== undefined });
  return answered ? task : undefined;
}

/** Runs recorded before decisions escalated: the party is told once past due, nothing more. */
async function waitForDecisionLegacy(run: ProcessRun, task: PendingTask, clause: string, { dueAt, hardAt }: Deadlines): Promise<boolean> {
  const { stepKey, partyId } = task.opening;
  await run.journal.write({ openTasks: [task.opening], process: { currentStep: stepKey } });
  const settled = () => task.settled;
  if (dueAt !== undefined && (hardAt === undefined || dueAt < hardAt)) {
    if (!(await wf.condition(settled, untilMs(dueAt)))) {
      const about = { taskId: task.opening.id, dueAt: iso(dueAt) };
      run.note({ stepKey, event: 'step.overdue', partyId, clause, data: about });
      await run.journal.write({ outbox: [{ effectKey: `${run.processId}:${task.opening.id}:step.overdue:${partyId}`, partyId, event: 'step.overdue', payload: { processId: run.processId, processType: run.start.processType, contractId: run.start.contractId, stepKey, clause, at: nowIso(), ...about } }] });
    }
  }
  const done = hardAt === undefined ? (await wf.condition(settled), true) : await wf.condition(settled, untilMs(hardAt));
  if (done) return true;
  run.inbox.forget(task);
  run.note({ stepKey, event: 'task.expired', partyId, clause, data: { taskId: task.opening.id, kind: task.opening.kind } });
  await run.journal.write({ settleTasks: [{ taskId: task.opening.id, status: 'expired', at: nowIso() }] });
  return false;
}

async function execute(run: ProcessRun, step: ResolvedStep, spec: StepSpec, deadlines: Deadlines, resumed?: PendingTask): Promise<Omit<StepResult, 'consulted'>> {
  const r = step.responsible;
  switch (r.by) {
    case 'engine':
      return executeByEngine(run, step, spec);
    case 'person': {
      if (spec.doneByRequester && run.start.requestedBy.partyId === r.party) {
        run.note({ stepKey: step.activityKey, event: 'step.executed', partyId: r.party, actor: `user:${run.start.requestedBy.userId}`, clause: step.clause, data: { by: 'requester' } });
        return { outcome: 'done', completedBy: run.start.requestedBy.userId };
      }
      const task =
        resumed ??
        run.inbox.open(
          { kind: spec.signature ? 'sign' : 'execute', stepKey: step.activityKey, partyId: r.party, team: r.team, title: spec.title, payload: spec.details ?? {}, dueAt: iso(deadlines.dueAt), hardDeadlineAt: iso(deadlines.hardAt) },
          step.clause,
          spec.completion,
        );
      const answered = await waitForTask(run, step, task, deadlines, { opened: resumed !== undefined });
      if (!answered) return { outcome: 'expired', reason: 'hard deadline passed without completion' };
      if (task.opening.kind === 'sign' && task.answer?.decision !== 'approve') return { outcome: 'rejected', reason: `declined by ${task.answer?.userId ?? 'unknown'}`, output: task.answer?.payload, completedBy: task.answer?.userId };
      return { outcome: 'done', output: task.answer?.payload, completedBy: task.answer?.userId };
    }
    case 'agent':
      return executeByAgent(run, step, spec, deadlines);
  }
}

async function executeByEngine(run: ProcessRun, step: ResolvedStep, spec: StepSpec): Promise<Omit<StepResult, 'consulted'>> {
  const r = step.responsible;
  const idempotencyKey = effectKeyOf(run, step, spec);
  const proxy = run.journal.isDurable ? engine : engineLegacy;
  try {
    // The engine activity first writes what earlier steps left (one transaction), then acts.
    const carried = run.journal.carry();
    let output: unknown;
    try {
      output = await proxy.runEngineAction({ action: r.action ?? '', params: spec.params ?? {}, idempotencyKey, record: carried });
    } catch (err) {
      if (carried) run.journal.restore(carried);
      throw err;
    }
    run.note({ stepKey: step.activityKey, event: 'step.executed', partyId: r.party, actor: `engine:${r.action}`, clause: step.clause, data: { output } });
    return { outcome: 'done', output };
  } catch (err) {
    if (wf.isCancellation(err)) throw err;
    const reason = failureReason(err);
    run.note({ stepKey: step.activityKey, event: 'step.failed', partyId: r.party, actor: `engine:${r.action}`, clause: step.clause, data: { reason } });
    return { outcome: 'failed', reason };
  }
}

/**
 * Opens the task (unless the previous run did) and waits for it. At the due time A is
 * notified (the step is late); at the hard deadline the task expires and the caller gives it
 * its business meaning. An answer the workflow accepted wins over a deadline reached in the
 * same instant: the journal holds one or the other, never both.
 */
async function waitForTask(run: ProcessRun, step: ResolvedStep, task: PendingTask, deadlines: Deadlines, { opened }: { opened: boolean }): Promise<boolean> {
  const holder = task.opening.partyId;
  // The work is the holder's from the moment it is handed over, not from when its row is written.
  if (run.journal.isDurable) run.holdBy(holder);
  if (!opened) await run.journal.write({ openTasks: [task.opening], process: { currentStep: step.activityKey } });
  setPhase(run, run.state.currentStep?.phase === 'approving' ? 'approving' : 'executing');
  if (!run.journal.isDurable) run.holdBy(holder);
  const done = await waitWithEscalation(run, step, () => task.settled, deadlines, { holder, taskId: task.opening.id }, undefined, task);
  run.holdBy(run.providerId);
  if (done) return true;
  run.inbox.forget(task);
  run.note({ stepKey: step.activityKey, event: 'task.expired', partyId: holder, clause: step.clause, data: { taskId: task.opening.id, kind: task.opening.kind } });
  await run.journal.write({ settleTasks: [{ taskId: task.opening.id, status: 'expired', at: nowIso() }] });
  return false;
}

async function conclude(run: ProcessRun, step: ResolvedStep, result: StepResult): Promise<StepResult> {
  setPhase(run, 'informing');
  const at = nowIso();
  run.note({ stepKey: step.activityKey, event: 'step.completed', partyId: step.responsible.party, clause: step.clause, data: { outcome: result.outcome, reason: result.reason } });
  const effects = {
    outbox: step.informed.map((partyId) => notice(run, step, partyId, 'step.completed', { outcome: result.outcome })),
    process: { currentStep: null },
  };
  // Runs recorded before this change wrote each step's end with a local activity of its own.
  if (!run.journal.isDurable && !wf.patched(PATCH_DEFERRED_STEP_END)) await run.journal.write(effects);
  else run.journal.defer(effects);
  run.state.steps.push({ stepKey: step.activityKey, outcome: result.outcome, at });
  run.state.currentStep = undefined;
  return result;
}

function msOf(at: string | undefined): number | undefined {
  return at === undefined ? undefined : new Date(at).getTime();
}

export type { TaskOpening };
