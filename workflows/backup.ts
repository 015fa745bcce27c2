// Backup run (service mco): for each asset of the contract's backup policy, the agent of
// the asset's host party backs it up (backup.run), then the provider's engine compares the
// storage side's checksum with the agent's (backup.verify). A failed backup, a checksum
// mismatch and a backup not done by the policy's `expectedBy` (a watchdog timer racing the
// asset's backup) each open a P2 incident, once per asset and day; the other assets go on.
import * as wf from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { PROCESSES, type BackupInput } from '../domain/catalogue';
import { backupDueAt, backupPlan, backupReportOf, backupZone, incidentKey, runDay, verifyReportOf, type BackupItem } from '../domain/backups';
import { resolveStep } from '../domain/raci';
import type { ProcessStart } from './definitions';
import { nowMs, runProcess, type ProcessRun } from './process';
import { runStep } from './step';
import { raiseIncident, type IncidentRef } from './backup-common';

export type BackupStatus = 'verified' | 'done' | 'failed' | 'mismatch' | 'verify-failed';

export interface BackupAssetResult {
  asset: string;
  /** The host party whose agent did the backup. */
  party: string;
  /** verified; done (the policy asks no verification); failed (backup.run); mismatch; verify-failed (backup.verify could not run). */
  status: BackupStatus;
  /** Not done by the policy's `expectedBy`. */
  late: boolean;
  backupId?: string;
  location?: string;
  checksum?: string;
  sizeBytes?: number;
  reason?: string;
  incident?: IncidentRef;
}

export interface BackupResult {
  day: string;
  assets: BackupAssetResult[];
}

export async function backupRun(start: ProcessStart): Promise<BackupResult> {
  return runProcess(start, PROCESSES.backup, async (run, input: BackupInput) => {
    const plan = backupPlan(run.slice.backupPolicy ?? [], input.assets);
    if (!plan.ok) throw wf.ApplicationFailure.nonRetryable(plan.message, 'InvalidInput');
    const timezone = backupZone(run.slice.parties);
    const startedAt = nowMs();
    const day = runDay({ day: input.day, businessKey: start.businessKey, scheduledAt: scheduledAt(), startedAt, timezone });
    const watchdogAt = input.watchdogAt === undefined ? undefined : Date.parse(input.watchdogAt);
    run.note({ event: 'backup.planned', partyId: run.providerId, data: { day, timezone, assets: plan.items, ...(input.watchdogAt ? { watchdogAt: input.watchdogAt } : {}) } });
    // Each host's agent backs up its own assets; the assets run side by side.
    const assets = await Promise.all(
      plan.items.map((item) => backupAsset(run, item, { day, dueAt: watchdogAt ?? backupDueAt({ day, expectedBy: item.expectedBy, timezone, notBefore: startedAt }) })),
    );
    run.note({ event: 'backup.summary', partyId: run.providerId, data: { day, assets: assets.map((a) => ({ asset: a.asset, status: a.status, late: a.late, backupId: a.backupId ?? null })) } });
    return { day, assets };
  });
}

const TemporalScheduledStartTime = defineSearchAttributeKey('TemporalScheduledStartTime', SearchAttributeType.DATETIME);

/** The scheduled time of a run a Temporal Schedule started (a search attribute the schedule sets). */
function scheduledAt(): number | undefined {
  return wf.workflowInfo().typedSearchAttributes.get(TemporalScheduledStartTime)?.getTime();
}

async function backupAsset(run: ProcessRun, item: BackupItem, ctx: { day: string; dueAt: number }): Promise<BackupAssetResult> {
  const { asset } = item;
  const routed = resolveStep(run.slice, 'backup.run', { asset });
  const party = routed.ok ? routed.step.responsible.party : '';
  const result: BackupAssetResult = { asset, party, status: 'failed', late: false };
  const key = incidentKey(asset, ctx.day);
  const raise = async (title: string, description: string) => {
    result.incident ??= await raiseIncident(run, { stepKey: 'backup.run', asset, key, title, description });
  };

  // The watchdog: a timer racing this asset's backup; late, it opens the incident and the backup goes on.
  let backedUp = false;
  const dueAt = new Date(ctx.dueAt).toISOString();
  const watchdog = (async () => {
    if (await wf.condition(() => backedUp, Math.max(1, ctx.dueAt - nowMs()))) return;
    result.late = true;
    run.note({ stepKey: 'backup.run', event: 'backup.late', partyId: party, data: { asset, day: ctx.day, expectedBy: item.expectedBy, dueAt } });
    await raise(`Backup of ${asset} not done by ${item.expectedBy}`, `The backup of ${asset} for ${ctx.day} was not done by ${dueAt} (expected by ${item.expectedBy}, backup policy).`);
  })();
  const ran = await runStep(run, 'backup.run', { asset, title: `Back up ${asset} (${ctx.day})`, details: { asset, day: ctx.day, retention: item.retention }, params: { asset } });
  backedUp = true;
  await watchdog;

  const report = ran.outcome === 'done' ? backupReportOf(ran.output) : undefined;
  if (!report) {
    result.reason = ran.outcome === 'done' ? 'the agent\'s output is not a backup report {backupId, location, checksum, sizeBytes}' : `backup ${ran.outcome}: ${ran.reason ?? ''}`;
    run.note({ stepKey: 'backup.run', event: 'backup.failed', partyId: party, data: { asset, day: ctx.day, reason: result.reason } });
    await raise(`Backup of ${asset} failed`, `The backup of ${asset} for ${ctx.day} failed: ${result.reason}`);
    return result;
  }
  Object.assign(result, { backupId: report.backupId, location: report.location, checksum: report.checksum, ...(report.sizeBytes !== undefined ? { sizeBytes: report.sizeBytes } : {}) });
  if (item.verify === undefined) {
    result.status = 'done';
    return result;
  }

  const verify = await runStep(run, 'backup.verify', {
    asset,
    title: `Verify the backup ${report.backupId} of ${asset}`,
    details: { asset, backupId: report.backupId },
    params: { party, asset, backupId: report.backupId, location: report.location, checksum: report.checksum },
  });
  const verdict = verify.outcome === 'done' ? verifyReportOf(verify.output) : undefined;
  if (!verdict) {
    result.status = 'verify-failed';
    result.reason = verify.outcome === 'done' ? 'the verification answered no verdict' : `verification ${verify.outcome}: ${verify.reason ?? ''}`;
    run.note({ stepKey: 'backup.verify', event: 'backup.verify-failed', partyId: run.providerId, data: { asset, day: ctx.day, backupId: report.backupId, reason: result.reason } });
    await raise(`Backup of ${asset} could not be verified`, `The backup ${report.backupId} of ${asset} for ${ctx.day} could not be verified: ${result.reason}`);
    return result;
  }
  if (!verdict.match) {
    result.status = 'mismatch';
    result.reason = verdict.reason ?? 'the storage side\'s checksum differs from the agent\'s';
    run.note({ stepKey: 'backup.verify', event: 'backup.checksum-mismatch', partyId: run.providerId, data: { asset, day: ctx.day, backupId: report.backupId, location: report.location, expected: report.checksum, actual: verdict.actual ?? null, reason: result.reason } });
    await raise(`Backup of ${asset}: checksum mismatch`, `The backup ${report.backupId} of ${asset} for ${ctx.day} does not match its checksum in storage: ${result.reason}`);
    return result;
  }
  result.status = 'verified';
  // What a restore test later picks (activities/backups.ts reads these entries).
  run.note({
    stepKey: 'backup.verify',
    event: 'backup.verified',
    partyId: run.providerId,
    data: { asset, day: ctx.day, party, backupId: report.backupId, location: report.location, checksum: report.checksum, sizeBytes: report.sizeBytes ?? verdict.sizeBytes ?? null, retention: item.retention, late: result.late },
  });
  return result;
}
