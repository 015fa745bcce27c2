// One batch of a patch cycle: snapshot, patch and health-check each server, with the
// rollback of each server registered before the patch it undoes. A failed batch is rolled
// back as a unit, newest first; a stateful server is restored only after a person agrees.
import * as wf from '@temporalio/workflow';
import { resolveStep } from '../domain/raci';
import type { ProcessRun } from './process';
import { decideRollback, type RollbackDecision } from './patch-cycle-approval';
import { runStep } from './step';

export type Fate = 'patched' | 'rolled-back' | 'not-rolled-back' | 'rollback-failed' | 'skipped';

/** What happened to one server, as the report tells it. */
export interface ServerFate {
  asset: string;
  fate: Fate;
  reason?: string;
  batch?: number;
  snapshot?: string;
  decidedBy?: string;
}

/** The undo of one patch: restore this server from this snapshot. */
interface Compensation {
  asset: string;
  snapshot?: string;
}

/** A failed batch names what failed and the server it failed on. */
export type BatchOutcome = { ok: true; fates: ServerFate[] } | { ok: false; failure: string; asset: string; fates: ServerFate[] };

/**
 * Where a batch stands before one of its server steps: a run that continues as new goes on
 * from here (patch-cycle.ts carries it in its checkpoint). Plain data, so it can be carried.
 */
export interface BatchProgress {
  stage: 'apply' | 'check' | 'roll-back';
  /** The server (apply, check) or the compensation, newest first (roll-back), the stage is at. */
  next: number;
  /** In the apply stage: the server's snapshot is taken, its patch is next. */
  snapshotted?: boolean;
  undo: Compensation[];
  /** Roll-back: the fates decided so far. */
  fates: ServerFate[];
  failure?: string;
  failedOn: string;
  /** Roll-back: the decision taken on the compensation at `next`, before its restore. */
  decided?: RollbackDecision;
}

export interface BatchResume {
  from?: BatchProgress;
  /** Called before each server step with where the batch stands; may hand the run over. */
  boundary: (progress: BatchProgress) => void;
}

export async function runBatch(run: ProcessRun, batch: number, assets: readonly string[], patches: string, { from, boundary }: BatchResume): Promise<BatchOutcome> {
  const p: BatchProgress = from ?? { stage: 'apply', next: 0, undo: [], fates: [], failedOn: '' };
  if (p.stage === 'apply') {
    for (; p.next < assets.length; p.next++) {
      const asset = assets[p.next]!;
      p.failedOn = asset;
      if (!p.snapshotted) {
        boundary(p);
        const snap = await runStep(run, 'vm.snapshot', { asset, title: `Snapshot ${asset} before patching`, params: { asset } });
        if (snap.outcome !== 'done') {
          p.failure = `snapshot of ${asset} ${snap.outcome}${snap.reason ? `: ${snap.reason}` : ''}`;
          break;
        }
        const snapshot = snapshotIdOf(snap.output);
        // Registered before the patch: a patch that fails half-way is undone too.
        p.undo.push({ asset, ...(snapshot !== undefined && { snapshot }) });
        p.snapshotted = true;
        run.note({ stepKey: 'vm.restore-snapshot', event: 'compensation.registered', data: { asset, snapshot, batch } });
      }
      boundary(p);
      const patched = await runStep(run, 'vm.patch', { asset, title: `Patch ${asset} (${patches})`, details: { asset, patches }, params: { asset } });
      p.snapshotted = false;
      if (patched.outcome !== 'done') {
        p.failure = `patch of ${asset} ${patched.outcome}${patched.reason ? `: ${patched.reason}` : ''}`;
        break;
      }
    }
    p.snapshotted = false;
    p.stage = p.failure === undefined ? 'check' : failed(run, batch, assets, p);
    p.next = 0;
  }
  if (p.stage === 'check') {
    for (; p.next < assets.length; p.next++) {
      const asset = assets[p.next]!;
      p.failedOn = asset;
      boundary(p);
      const check = await runStep(run, 'vm.health-check', { asset, title: `Health check of ${asset} after patching`, params: { asset } });
      if (check.outcome !== 'done' || !healthy(check.output)) {
        p.failure = `health check of ${asset} ${check.outcome === 'done' ? 'reported it unhealthy' : `${check.outcome}${check.reason ? `: ${check.reason}` : ''}`}`;
        break;
      }
    }
    if (p.failure === undefined) {
      const snapshots = new Map(p.undo.map((u) => [u.asset, u.snapshot]));
      return { ok: true, fates: assets.map((asset) => withSnapshot({ asset, fate: 'patched', batch }, snapshots.get(asset))) };
    }
    p.stage = failed(run, batch, assets, p);
    p.next = 0;
  }

  const failure = p.failure ?? 'the batch failed';
  const newestFirst = [...p.undo].reverse();
  for (; p.next < newestFirst.length; p.next++) {
    if (!p.decided) boundary(p);
    p.fates.push(await rollBack(run, batch, newestFirst[p.next]!, failure, p, boundary));
    p.decided = undefined;
  }
  const fates = new Map(p.fates.map((f) => [f.asset, f]));
  const notReached = assets.filter((a) => !fates.has(a)).map((asset): ServerFate => ({ asset, fate: 'skipped', batch, reason: `batch ${batch} failed before its patch: ${failure}` }));
  return { ok: false, failure, asset: p.failedOn, fates: [...assets.flatMap((a) => fates.get(a) ?? []), ...notReached] };
}

/** Journals the batch's failure once, as it turns to its roll-back. */
function failed(run: ProcessRun, batch: number, assets: readonly string[], p: BatchProgress): 'roll-back' {
  run.note({ event: 'batch.failed', data: { batch, assets, failure: p.failure } });
  return 'roll-back';
}

/**
 * Restores one server; a stateful one only after a person agrees. The decision goes into the
 * progress before the restore, so a run that hands over meanwhile does not ask again.
 */
async function rollBack(run: ProcessRun, batch: number, { asset, snapshot }: Compensation, failure: string, p: BatchProgress, boundary: BatchResume['boundary']): Promise<ServerFate> {
  const resolved = resolveStep(run.slice, 'vm.restore-snapshot', { asset });
  if (!resolved.ok) throw wf.ApplicationFailure.nonRetryable(`vm.restore-snapshot: ${resolved.message}`, 'StepNotCovered');
  const restore = resolved.step;
  const base = withSnapshot({ asset, fate: 'rolled-back', batch }, snapshot);
  let decidedBy: string | undefined;
  if (restore.options.decideIf === 'stateful' && restore.asset?.stateful === true) {
    const decision = p.decided ?? (await decideRollback(run, restore, asset, { failure, ...(snapshot !== undefined && { snapshot }) }));
    decidedBy = decision.decidedBy;
    if (!decision.restore) {
      run.note({ stepKey: restore.activityKey, event: 'rollback.declined', partyId: restore.accountable, clause: restore.clause, data: { asset, reason: decision.reason } });
      return { ...base, fate: 'not-rolled-back', reason: decision.reason, ...(decidedBy !== undefined && { decidedBy }) };
    }
    if (!p.decided) {
      p.decided = decision;
      boundary(p);
    }
  }
  const restored = await runStep(run, 'vm.restore-snapshot', { asset, title: `Roll ${asset} back to its snapshot`, details: { asset, snapshot, failure }, params: { asset, ...(snapshot !== undefined && { snapshot }) } });
  const by = decidedBy !== undefined ? { decidedBy } : {};
  if (restored.outcome !== 'done') return { ...base, ...by, fate: 'rollback-failed', reason: `restore ${restored.outcome}${restored.reason ? `: ${restored.reason}` : ''}` };
  return { ...base, ...by, reason: failure };
}

function withSnapshot(fate: ServerFate, snapshot: string | undefined): ServerFate {
  return snapshot === undefined ? fate : { ...fate, snapshot };
}

/** The id an agent's snapshot action answers (`{snapshot: {id}}`, or `{id}`). */
function snapshotIdOf(output: unknown): string | undefined {
  const o = output as { snapshot?: { id?: unknown }; id?: unknown } | undefined;
  const id = o?.snapshot?.id ?? o?.id;
  return typeof id === 'string' ? id : undefined;
}

/** A check that ran may still find the server unwell: `{health: {status}}` or `{healthy: false}`. */
function healthy(output: unknown): boolean {
  const o = output as { health?: { status?: unknown }; healthy?: unknown } | undefined;
  if (o?.healthy === false) return false;
  const status = o?.health?.status;
  return status === undefined || status === 'healthy' || status === 'ok';
}
