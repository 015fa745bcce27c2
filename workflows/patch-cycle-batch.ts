// One batch of a patch cycle: snapshot, patch and health-check each server, with the
// rollback of each server registered before the patch it undoes. A failed batch is rolled
// back as a unit, newest first; a stateful server is restored only after a person agrees.
import * as wf from '@temporalio/workflow';
import { resolveStep } from '../domain/raci';
import type { ProcessRun } from './process';
import { decideRollback } from './patch-cycle-approval';
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

export async function runBatch(run: ProcessRun, batch: number, assets: readonly string[], patches: string): Promise<BatchOutcome> {
  const undo: Compensation[] = [];
  const fates = new Map<string, ServerFate>();
  let failure: string | undefined;
  let failedOn = '';
  for (const asset of assets) {
    failedOn = asset;
    const snap = await runStep(run, 'vm.snapshot', { asset, title: `Snapshot ${asset} before patching`, params: { asset } });
    if (snap.outcome !== 'done') {
      failure = `snapshot of ${asset} ${snap.outcome}${snap.reason ? `: ${snap.reason}` : ''}`;
      break;
    }
    const snapshot = snapshotIdOf(snap.output);
    // Registered before the patch: a patch that fails half-way is undone too.
    undo.push({ asset, ...(snapshot !== undefined && { snapshot }) });
    run.note({ stepKey: 'vm.restore-snapshot', event: 'compensation.registered', data: { asset, snapshot, batch } });
    const patched = await runStep(run, 'vm.patch', { asset, title: `Patch ${asset} (${patches})`, details: { asset, patches }, params: { asset } });
    if (patched.outcome !== 'done') {
      failure = `patch of ${asset} ${patched.outcome}${patched.reason ? `: ${patched.reason}` : ''}`;
      break;
    }
  }
  if (failure === undefined) {
    for (const asset of assets) {
      failedOn = asset;
      const check = await runStep(run, 'vm.health-check', { asset, title: `Health check of ${asset} after patching`, params: { asset } });
      if (check.outcome !== 'done' || !healthy(check.output)) {
        failure = `health check of ${asset} ${check.outcome === 'done' ? 'reported it unhealthy' : `${check.outcome}${check.reason ? `: ${check.reason}` : ''}`}`;
        break;
      }
    }
  }
  if (failure === undefined) {
    const snapshots = new Map(undo.map((u) => [u.asset, u.snapshot]));
    return { ok: true, fates: assets.map((asset) => withSnapshot({ asset, fate: 'patched', batch }, snapshots.get(asset))) };
  }

  run.note({ event: 'batch.failed', data: { batch, assets, failure } });
  for (const compensation of [...undo].reverse()) fates.set(compensation.asset, await rollBack(run, batch, compensation, failure));
  const notReached = assets.filter((a) => !fates.has(a)).map((asset): ServerFate => ({ asset, fate: 'skipped', batch, reason: `batch ${batch} failed before its patch: ${failure}` }));
  return { ok: false, failure, asset: failedOn, fates: [...assets.flatMap((a) => fates.get(a) ?? []), ...notReached] };
}

async function rollBack(run: ProcessRun, batch: number, { asset, snapshot }: Compensation, failure: string): Promise<ServerFate> {
  const resolved = resolveStep(run.slice, 'vm.restore-snapshot', { asset });
  if (!resolved.ok) throw wf.ApplicationFailure.nonRetryable(`vm.restore-snapshot: ${resolved.message}`, 'StepNotCovered');
  const restore = resolved.step;
  const base = withSnapshot({ asset, fate: 'rolled-back', batch }, snapshot);
  let decidedBy: string | undefined;
  if (restore.options.decideIf === 'stateful' && restore.asset?.stateful === true) {
    const decision = await decideRollback(run, restore, asset, { failure, ...(snapshot !== undefined && { snapshot }) });
    decidedBy = decision.decidedBy;
    if (!decision.restore) {
      run.note({ stepKey: restore.activityKey, event: 'rollback.declined', partyId: restore.accountable, clause: restore.clause, data: { asset, reason: decision.reason } });
      return { ...base, fate: 'not-rolled-back', reason: decision.reason, ...(decidedBy !== undefined && { decidedBy }) };
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
