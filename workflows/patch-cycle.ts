// Patch cycle (service mco): a change request for servers of the perimeter, typed by the
// contract's change policy and approved accordingly (approve now, run in the next window),
// then carried out in a maintenance window outside any freeze, batch by batch: snapshot,
// patch, health check; a failed batch is rolled back from its snapshots, the cycle stops and
// an incident is opened. A report of every server's fate goes to the parties to inform.
import * as wf from '@temporalio/workflow';
import { PROCESSES, type PatchCycleInput } from '../domain/catalogue';
import {
  actionDurations,
  assetsOutOfScope,
  batchesOf,
  changeExceptionOf,
  batchNeedMs,
  changeWindow,
  checkApproval,
  fitBatch,
  freezeTouching,
  typeChange,
  type ChangeApproval,
  type ChangeTyping,
  type WindowChoice,
} from '../domain/change';
import type { WindowOccurrence } from '../domain/calendar-windows';
import { toInstant } from '../domain/calendar-zone';
import { resolveStep } from '../domain/raci';
import type { OutboxInput } from '../activities/engine';
import type { OpenIncidentInput, ProcessActivities } from '../activities/processes';
import type { ProcessStart } from './definitions';
import { nowIso, nowMs, runProcess, type ProcessRun } from './process';
import { approveChange, CHANGE_KEY } from './patch-cycle-approval';
import { runBatch, type BatchProgress, type ServerFate } from './patch-cycle-batch';
import { runStep } from './step';
import { failureReason } from './kernel/failure';

export type { ServerFate } from './patch-cycle-batch';

// Starts the incident process (activities/processes.ts); idempotent per (process, key).
const incidents = wf.proxyActivities<ProcessActivities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5 },
});

/** Runs recorded before exceptions were journaled (`change.exception`) keep their journal. */
export const PATCH_CHANGE_EXCEPTION = 'change-exception';

const SERVER_KEYS = ['vm.snapshot', 'vm.patch', 'vm.health-check', 'vm.restore-snapshot'] as const;

export type PatchCycleStatus = 'completed' | 'incomplete' | 'rejected' | 'expired' | 'frozen' | 'failed';

export interface PatchCycleResult {
  changeType: ChangeTyping['type'];
  status: PatchCycleStatus;
  servers: ServerFate[];
  window?: { name: string; start: string; end: string };
  reportPublished: boolean;
}

export async function patchCycle(start: ProcessStart): Promise<PatchCycleResult> {
  return runProcess(start, PROCESSES['patch-cycle'], async (run, input: PatchCycleInput) => {
    refuseUncovered(run, input.assets);
    const typed = typeChange(run.slice.changePolicy, input);
    if (!typed.ok) throw wf.ApplicationFailure.nonRetryable(typed.reason, 'ChangeRefused');
    const typing = typed.typing;

    // A run that continued as new resumes the batches where the previous one handed over.
    const saved = run.resumed?.checkpoint as CycleCheckpoint | undefined;
    const resumable = saved !== undefined || wf.patched(PATCH_CYCLE_HAND_OVER);
    let cycle: Cycle;
    if (saved) {
      cycle = await carryOut(run, input, typing, saved.approval, { resumable, saved });
    } else {
      // An exception to the contract (another window, other durations) is journaled with its reason and shown to the approver.
      const asked = changeExceptionOf(input);
      const exception = asked && wf.patched(PATCH_CHANGE_EXCEPTION) ? asked : undefined;
      if (exception) run.note({ stepKey: CHANGE_KEY, event: 'change.exception', partyId: run.start.requestedBy.partyId, actor: `user:${run.start.requestedBy.userId}`, clause: typing.clause, data: { changeType: typing.type, ...exception } });
      const details = { patches: input.patches, batchSize: input.batchSize, ...(input.standardChange !== undefined && { standardChange: input.standardChange }), ...(input.window !== undefined && { window: input.window }), ...(exception && { exception }) };
      const decision = await approveChange(run, typing, { title: `${input.patches} on ${input.assets.join(', ')}`, assets: input.assets, details });
      cycle = decision.approved ? await carryOut(run, input, typing, decision.approval, { resumable }) : { status: 'rejected' as const, servers: skipAll(input.assets, `change not approved: ${decision.reason}`) };
    }
    run.checkpoint = undefined; // the report and the incident run in this run, whatever the budget says

    const failed = cycle.status === 'failed';
    if (failed) await openIncident(run, input, { message: cycle.failure ?? 'a batch failed', ...(cycle.failedAsset !== undefined && { asset: cycle.failedAsset }) });
    const reportPublished = await publishReport(run, typing, cycle);
    if (failed) throw wf.ApplicationFailure.nonRetryable(`patch cycle stopped: ${cycle.failure ?? 'a batch failed'}; rolled back, incident opened`, 'ChangeFailed');
    return { changeType: typing.type, status: cycle.status, servers: cycle.servers, ...(cycle.window && { window: cycle.window }), reportPublished };
  });
}

/**
 * Cycles started before this marker never set a checkpoint (they run in one history, as they
 * were recorded); later ones continue as new at a server step boundary when the budget is spent.
 */
export const PATCH_CYCLE_HAND_OVER = 'patch-cycle-hand-over';

/**
 * Where a cycle stands, set before each server step: the approval it runs under, the window it
 * is in, the batch, what happened to the servers before it, and the batch's own progress.
 */
interface CycleCheckpoint {
  approval: ChangeApproval;
  occurrence: WindowOccurrence;
  batch: number;
  servers: ServerFate[];
  progress?: BatchProgress;
}

interface Cycle {
  status: PatchCycleStatus;
  servers: ServerFate[];
  failure?: string;
  failedAsset?: string;
  window?: { name: string; start: string; end: string };
}

/** Every server must be in the perimeter and every server step routed, before anything is asked. */
function refuseUncovered(run: ProcessRun, assets: readonly string[]): void {
  const outside = assetsOutOfScope(run.slice.scope.assets, assets);
  if (outside.length > 0) throw wf.ApplicationFailure.nonRetryable(`not in the contract's scope: ${outside.join(', ')}`, 'AssetNotInScope');
  const twice = assets.filter((a, i) => assets.indexOf(a) !== i);
  if (twice.length > 0) throw wf.ApplicationFailure.nonRetryable(`listed more than once: ${[...new Set(twice)].join(', ')}`, 'InvalidInput');
  const missing = assets.flatMap((asset) => SERVER_KEYS.flatMap((key) => {
    const r = resolveStep(run.slice, key, { asset });
    return r.ok ? [] : [r.message];
  }));
  if (missing.length > 0) throw wf.ApplicationFailure.nonRetryable(`not covered: ${missing.join('; ')}`, 'StepNotCovered');
}

/** Waits for the window, then runs the batches while the approval holds and the window has room. */
async function carryOut(run: ProcessRun, input: PatchCycleInput, typing: ChangeTyping, approval: ChangeApproval, { resumable, saved }: { resumable: boolean; saved?: CycleCheckpoint }): Promise<Cycle> {
  const tz = run.slice.parties.find((p) => p.kind === 'provider')?.timezone ?? 'UTC';
  const choice: WindowChoice = { windows: run.slice.maintenanceWindows, freezes: run.slice.freezes, tz, ignoreFreezes: typing.mayRunInFreeze, ...(input.window !== undefined && { window: input.window }) };
  const override = input.windowOverride && { name: 'override', start: toInstant(input.windowOverride.start, 'UTC'), end: toInstant(input.windowOverride.end, 'UTC') };
  const windowAfter = (at: number): { ok: true; occurrence: WindowOccurrence } | { ok: false; reason: string } =>
    override ? (at < override.end ? { ok: true, occurrence: override } : { ok: false, reason: 'the override window is over' }) : changeWindow(choice, at);

  const durations = actionDurations(input.durations);
  const batches = batchesOf(input.assets, input.batchSize);
  const servers: ServerFate[] = saved ? [...saved.servers] : [];
  const rest = (from: number, reason: string) => skipAll(batches.slice(from).flat(), reason);

  let found: ReturnType<typeof windowAfter>;
  let occurrence: WindowOccurrence;
  if (saved) {
    occurrence = saved.occurrence;
  } else {
    found = windowAfter(nowMs());
    if (!found.ok) return { status: 'incomplete', servers: rest(0, found.reason) };
    occurrence = found.occurrence;
    const frozen = freezeTouching(run.slice.freezes, tz, occurrence.start, occurrence.end);
    if (frozen && !typing.mayRunInFreeze) {
      // Only an override can land here: the contract's windows in a freeze are skipped.
      run.note({ event: 'change.frozen', clause: `freezes/${frozen.name}`, data: { freeze: frozen.name, window: view(occurrence) } });
      return { status: 'frozen', servers: rest(0, `the window falls in the freeze ${frozen.name}`) };
    }
    await waitFor(run, occurrence, typing, tz);
  }

  // A step boundary: say where the cycle stands (a copy: what follows must not change it), then
  // hand over if the budget is spent.
  const boundary = (batch: number, progress?: BatchProgress) => {
    if (!resumable) return;
    run.checkpoint = JSON.parse(JSON.stringify({ approval, occurrence, batch, servers, ...(progress && { progress }) })) as CycleCheckpoint;
    run.handOverIfDue();
  };

  for (let i = saved?.batch ?? 0; i < batches.length; i++) {
    const batch = batches[i]!;
    // A batch under way when the run handed over goes on where it stood: its checks were made.
    const progress = saved?.batch === i ? saved.progress : undefined;
    if (!progress) {
      boundary(i);
      const valid = checkApproval(approval, nowMs(), batch);
      if (!valid.ok) {
        run.note({ event: 'change.expired', clause: typing.clause, data: { reason: valid.reason, message: valid.message, expiresAt: iso(approval.expiresAt), batch: i + 1 } });
        return { status: 'expired', servers: [...servers, ...rest(i, valid.message)], window: view(occurrence) };
      }
      const needMs = batchNeedMs(durations, batch.length);
      const fit = fitBatch(occurrence, nowMs(), needMs);
      if (!fit.fits) {
        run.note({ event: 'batch.deferred', data: { batch: i + 1, assets: batch, needMs, remainingMs: fit.remainingMs, reason: fit.reason } });
        found = windowAfter(occurrence.end);
        if (!found.ok || found.occurrence.end - found.occurrence.start < needMs) {
          const reason = found.ok ? `batch ${i + 1} needs more time than a whole window` : `no room left in the window: ${fit.reason}`;
          return { status: 'incomplete', servers: [...servers, ...rest(i, reason)], window: view(occurrence) };
        }
        occurrence = found.occurrence;
        await waitFor(run, occurrence, typing, tz);
        i--; // the same batch, in the next window (the approval is checked again)
        continue;
      }
      run.note({ event: 'batch.started', data: { batch: i + 1, assets: batch, needMs, remainingMs: fit.remainingMs } });
    }
    const outcome = await runBatch(run, i + 1, batch, input.patches, { ...(progress && { from: progress }), boundary: (p) => boundary(i, p) });
    servers.push(...outcome.fates);
    if (!outcome.ok) {
      return { status: 'failed', failure: `batch ${i + 1}: ${outcome.failure}`, failedAsset: outcome.asset, servers: [...servers, ...rest(i + 1, `the cycle stopped after batch ${i + 1} failed`)], window: view(occurrence) };
    }
    run.note({ event: 'batch.completed', data: { batch: i + 1, assets: batch } });
  }
  return { status: 'completed', servers, window: view(occurrence) };
}

/**
 * A durable timer until the window opens (nothing to wait for when it is under way). A window
 * in a freeze reaches here only for a change that may run in one: the journal says so.
 */
async function waitFor(run: ProcessRun, occurrence: WindowOccurrence, typing: ChangeTyping, tz: string): Promise<void> {
  const frozen = freezeTouching(run.slice.freezes, tz, occurrence.start, occurrence.end);
  if (frozen) run.note({ event: 'change.in-freeze', clause: typing.clause, data: { freeze: frozen.name, window: view(occurrence) } });
  await run.attest({ event: 'change.scheduled', data: { window: view(occurrence) } }, { process: { currentStep: null } });
  const ms = occurrence.start - nowMs();
  if (ms > 0) await wf.sleep(ms);
}

/**
 * A failed batch opens a P2 incident (engine activity of activities/processes.ts, idempotent
 * per process and key). The cycle's report goes out even when the incident cannot be opened:
 * the journal says why.
 */
async function openIncident(run: ProcessRun, input: PatchCycleInput, failure: { message: string; asset?: string }): Promise<void> {
  const request: OpenIncidentInput = {
    contractId: run.start.contractId,
    contractVersion: run.start.version,
    openedBy: { processId: run.processId, requestedBy: run.start.requestedBy },
    key: 'failed-batch',
    title: `Patch cycle failed: ${failure.message}`.slice(0, 200),
    description: `Patch cycle ${run.processId} (${input.patches}) stopped and its batch was rolled back: ${failure.message}`.slice(0, 5000),
    priority: 'P2',
    ...(failure.asset !== undefined && { asset: failure.asset }),
  };
  try {
    const opened = await incidents.openIncident(request);
    run.note({ event: 'incident.opened', partyId: run.providerId, actor: 'engine:open-incident', data: { incident: opened.processId, created: opened.created, title: request.title, asset: failure.asset } });
  } catch (err) {
    if (wf.isCancellation(err)) throw err;
    const reason = failureReason(err);
    run.note({ event: 'incident.not-opened', partyId: run.providerId, data: { title: request.title, reason } });
  }
}

/** The report per server, journaled, published by `change.report` and sent to its I parties. */
async function publishReport(run: ProcessRun, typing: ChangeTyping, cycle: Cycle): Promise<boolean> {
  const report = { processId: run.processId, contractId: run.start.contractId, changeType: typing.type, status: cycle.status, window: cycle.window, failure: cycle.failure, servers: cycle.servers };
  const resolved = resolveStep(run.slice, 'change.report');
  const outbox: OutboxInput[] = resolved.ok ? resolved.step.informed.map((partyId) => ({ effectKey: `${run.processId}:change.report:${partyId}`, partyId, event: 'change.report', payload: { ...report, at: nowIso() } })) : [];
  run.note({ stepKey: 'change.report', event: 'change.reported', data: report }, outbox.length > 0 ? { outbox } : undefined);
  const title = `Patch cycle ${run.start.businessKey || run.processId}: ${cycle.status}`.slice(0, 200);
  const published = await runStep(run, 'change.report', {
    title,
    details: { status: cycle.status },
    params: { contractId: run.start.contractId, period: nowIso().slice(0, 7), kind: 'activity', title, data: JSON.stringify(report) },
  });
  return published.outcome === 'done';
}

function skipAll(assets: readonly string[], reason: string): ServerFate[] {
  return assets.map((asset) => ({ asset, fate: 'skipped', reason }));
}

function view(o: { name: string; start: number; end: number }): { name: string; start: string; end: string } {
  return { name: o.name, start: new Date(o.start).toISOString(), end: new Date(o.end).toISOString() };
}

function iso(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}
