// The frame every process runs in: registers a scheduled run, loads its contract slice,
// answers its queries, signals and updates through the run's parts (workflows/kernel/),
// records how it ended, and continues it as new when its history budget is spent.
// Steps themselves live in step.ts.
import * as wf from '@temporalio/workflow';
import { getProcess, type ProcessDefinition } from '../domain/catalogue';
import { businessKeyFor } from '../domain/schedules';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { EngineActivities, OutboxInput } from '../activities/engine';
import { agentJobPickedUpSignal, assignTaskUpdate, cancelProcessSignal, completeTaskUpdate, processStateQuery, type ProcessStart } from './definitions';
import { MandateStatus } from './search-attributes';
import { ContinueAsNewRequested, ProcessRun } from './kernel/run';
import { nowIso } from './kernel/time';
import { contractReader } from './kernel/readers';
import { admitCancel, admitSignal, admitStart } from './signed-acts';

export { ProcessRun } from './kernel/run';
export type { PendingTask } from './kernel/inbox';
export { nowIso, nowMs } from './kernel/time';
export type { OutboxInput };

/**
 * Writes go through regular activities whose input the history holds before they run, and
 * the completeTask handler changes workflow state only (docs/ARCHITECTURE.md "The record
 * follows the history"). Runs recorded before wrote with local activities, from the handler too.
 */
export const PATCH_DURABLE_WRITES = 'durable-writes';

/** A cancel during start-up (reading keys, registering, loading the slice) is taken after it. */
export const PATCH_CANCEL_AFTER_START_UP = 'cancel-after-start-up';


const register = wf.proxyActivities<EngineActivities>({
  startToCloseTimeout: '20s',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '10s', nonRetryableErrorTypes: ['DataRejected'] },
});

/**
 * Runs a process body inside the common frame. The body gets the validated input.
 * Business failures are ApplicationFailures; they are journaled before the workflow fails.
 */
export async function runProcess<I, O>(given: ProcessStart, definition: ProcessDefinition, body: (run: ProcessRun, input: I) => Promise<O>): Promise<O> {
  const durable = wf.patched(PATCH_DURABLE_WRITES);
  const startUp = async () => {
    // Only what this deployment sent for this process, signed where it names a person (docs/ARCHITECTURE.md "Trust boundaries").
    const signers = await admitStart(given);
    const start = given.businessKey === '' ? await registerScheduledRun(given, durable) : given;
    if (!start) return undefined;
    const slice = await contractReader.loadContractSlice({ contractId: start.contractId, version: start.version, activityKeys: activityKeysOf(definition) });
    return { signers, start, slice };
  };
  // A cancel that arrives while the run starts up waits for it, then ends the process the Mandate
  // way (journaled, tasks and status written); runs recorded before ended in Temporal only.
  const started = durable && wf.patched(PATCH_CANCEL_AFTER_START_UP) ? await wf.CancellationScope.nonCancellable(startUp) : await startUp();
  if (!started) {
    // The period or day already ran (or the contract is not active): nothing to do, no journal.
    return { skipped: true } as O; // a scheduled run's result is read by nobody but operators
  }
  const { signers, start, slice } = started;
  const run = new ProcessRun(start, slice, durable);
  run.inbox.signers = signers;
  wf.setHandler(processStateQuery, () => run.state);
  wf.setHandler(agentJobPickedUpSignal, (pickup) => {
    if (admitSignal(run, 'agentJobPickedUp', pickup)) run.jobs.pickedUp(pickup.jobId, pickup.agentId);
  });
  if (durable) {
    wf.setHandler(completeTaskUpdate, (c) => run.inbox.accept(c), { validator: (c) => run.inbox.validate(c) });
  } else {
    wf.setHandler(completeTaskUpdate, (c) => run.inbox.acceptLegacy(c), { validator: (c) => run.inbox.validate(c) });
  }
  // Assignment is the run's too (issue 12 point 8): a new update, so no recorded history holds one.
  wf.setHandler(assignTaskUpdate, (a) => run.inbox.assign(a), { validator: (a) => run.inbox.validateAssignment(a) });
  // The API signals who cancels and why, then asks Temporal to cancel the run.
  let cancelled: { reason: string; userId: string; partyId: string } | undefined;
  wf.setHandler(cancelProcessSignal, (request) => {
    if (admitCancel(run, signers, request)) cancelled ??= { reason: request.reason, userId: request.userId, partyId: request.partyId };
  });

  if (!start.resume) {
    run.note({
      event: 'process.started',
      partyId: start.requestedBy.partyId,
      actor: `user:${start.requestedBy.userId}`,
      data: { processType: start.processType, businessKey: start.businessKey, contractVersion: start.version },
    });
  }
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
    if (err instanceof ContinueAsNewRequested) return continueAsNew(run);
    if (wf.isCancellation(err)) {
      if (cancelled) {
        run.note({ event: 'process.cancel-requested', partyId: cancelled.partyId, actor: `user:${cancelled.userId}`, data: { reason: cancelled.reason } });
      }
      await wf.CancellationScope.nonCancellable(() => finish(run, 'cancelled', cancelled?.reason));
    } else if (err instanceof wf.ApplicationFailure) {
      await finish(run, 'failed', err.message);
    }
    throw err;
  }
}

/**
 * Hands the process over to a new run at a step boundary or while it waits for a person:
 * every handler finished, everything numbered written, then what the next run needs carried.
 */
async function continueAsNew(run: ProcessRun): Promise<never> {
  await wf.condition(wf.allHandlersFinished);
  run.note({ event: 'process.continued', data: { run: (run.resumed?.run ?? 0) + 1, historyLength: wf.workflowInfo().historyLength, openTaskIds: run.inbox.openTaskIds() } });
  // Signals keep coming meanwhile: from here on what they note is carried, not written, and the
  // next run writes it first, so the numbering has no gap and a flood cannot hold the hand-over.
  run.journal.hold();
  await wf.condition(() => run.journal.isDrained() && wf.allHandlersFinished());
  return wf.continueAsNew({ ...run.start, resume: run.carry() });
}

const TemporalScheduledStartTime = defineSearchAttributeKey('TemporalScheduledStartTime', SearchAttributeType.DATETIME);

/** A scheduled run takes its business key from its scheduled time (Temporal suffixes the workflow id). */
async function registerScheduledRun(start: ProcessStart, durable: boolean): Promise<ProcessStart | undefined> {
  const info = wf.workflowInfo();
  const scheduledAt = info.typedSearchAttributes.get(TemporalScheduledStartTime) ?? info.startTime;
  const schedule = start.schedule ?? { name: 'manual', timezone: 'UTC', keyBy: 'time' as const, id: '' };
  const businessKey = businessKeyFor(schedule.name, scheduledAt.toISOString(), start.processType, schedule);
  const input = { processId: info.workflowId, contractId: start.contractId, processType: start.processType, businessKey, requestedBy: start.requestedBy };
  // Registering writes the process row: a regular activity, so no row exists for a run the history lacks.
  const registered = durable ? await register.registerScheduledRun(input) : await contractReader.registerScheduledRun(input);
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
  const open = [...run.inbox.openTaskIds(), ...run.inbox.unclaimedCarriedIds()];
  const jobs = run.jobs.ids();
  run.note({ event: `process.${status}`, data: reason ? { reason } : {} });
  const at = nowIso();
  // A failure is told, not only journaled: to whoever asked for the process and to the provider.
  const told = status === 'failed' ? [...new Set([run.start.requestedBy.partyId, run.providerId])].filter((p) => p !== '') : [];
  const outbox = told.map((partyId) => ({ effectKey: `${run.processId}:process.failed:${partyId}`, partyId, event: 'process.failed', payload: { processId: run.processId, processType: run.start.processType, contractId: run.start.contractId, reason, at } }));
  await run.attest(undefined, {
    ...(outbox.length > 0 && { outbox }),
    settleTasks: open.map((taskId) => ({ taskId, status: 'cancelled' as const, at })),
    withdrawJobs: jobs,
    process: { status, currentStep: null, endedAt: at },
  });
  // Wait for in-flight task completions so none is cut off when the run closes.
  await wf.condition(wf.allHandlersFinished);
  wf.upsertSearchAttributes([{ key: MandateStatus, value: status }]);
}
