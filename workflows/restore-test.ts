// Restore test (service mco, monthly): restores one backup of an asset to a scratch target
// through R's agent (backup.restore-test, agent action restore-to-scratch), checks the
// agent's verification, journals the evidence (which agent, when, which backup, result)
// and informs the row's I parties with it. A failed restore opens a P2 incident.
import * as wf from '@temporalio/workflow';
import { PROCESSES, type RestoreTestInput } from '../domain/catalogue';
import { backupZone, incidentKey, localDate, restoreVerdict } from '../domain/backups';
import { resolveStep } from '../domain/raci';
import type { BackupActivities, VerifiedBackup } from '../activities/backups';
import type { OutboxInput } from '../activities/engine';
import type { ProcessStart } from './definitions';
import { nowIso, nowMs, runProcess } from './process';
import { runStep } from './step';
import { raiseIncident, watchAgent, type IncidentRef } from './backup-common';

const backups = wf.proxyActivities<BackupActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '10s', maximumAttempts: 5 },
});

export interface RestoreEvidence {
  asset: string;
  backupId: string;
  /** Where the backup came from: named by the input, or the asset's latest verified backup. */
  selectedBy: 'input' | 'latest-verified';
  /** `agent:<id>` of the agent that restored it. */
  restoredBy?: string;
  startedAt: string;
  endedAt: string;
  target?: string;
  checksum?: string;
  result: 'passed' | 'failed';
  reason?: string;
}

export interface RestoreTestResult {
  asset: string;
  outcome: 'passed' | 'failed' | 'no-backup';
  evidence?: RestoreEvidence;
  incident?: IncidentRef;
}

export async function restoreTest(start: ProcessStart): Promise<RestoreTestResult> {
  return runProcess(start, PROCESSES['restore-test'], async (run, input: RestoreTestInput) => {
    const asset = input.asset ?? run.slice.backupPolicy?.[0]?.assets[0];
    if (asset === undefined) throw wf.ApplicationFailure.nonRetryable('no asset given and the contract has no backup policy', 'InvalidInput');
    const day = localDate(nowMs(), backupZone(run.slice.parties));
    const key = incidentKey(asset, day);

    let backup: Pick<VerifiedBackup, 'backupId' | 'checksum' | 'location' | 'day' | 'processId'> | null;
    const selectedBy = input.backupId !== undefined ? 'input' : 'latest-verified';
    if (input.backupId !== undefined) backup = { backupId: input.backupId, processId: '' };
    else backup = await backups.latestVerifiedBackup({ contractId: run.start.contractId, asset });
    if (!backup) {
      run.note({ stepKey: 'backup.restore-test', event: 'restore-test.no-backup', partyId: run.providerId, data: { asset } });
      const incident = await raiseIncident(run, { stepKey: 'backup.restore-test', asset, key, title: `Restore test of ${asset}: no verified backup`, description: `The monthly restore test of ${asset} found no verified backup to restore.` });
      return { asset, outcome: 'no-backup', incident };
    }
    run.note({ stepKey: 'backup.restore-test', event: 'restore-test.selected', partyId: run.providerId, data: { asset, backupId: backup.backupId, selectedBy, backupDay: backup.day ?? null, backupProcess: backup.processId || null } });

    const startedAt = nowIso();
    let stepDone = false;
    const agent = watchAgent(run, () => stepDone);
    const restored = await runStep(run, 'backup.restore-test', {
      asset,
      title: `Restore test of ${asset} from ${backup.backupId}`,
      details: { asset, backupId: backup.backupId },
      params: { asset, backupId: backup.backupId },
    });
    stepDone = true;
    const verdict = restored.outcome === 'done' ? restoreVerdict(restored.output, { backupId: backup.backupId, checksum: backup.checksum }) : { passed: false as const, reason: `restore ${restored.outcome}: ${restored.reason ?? ''}` };
    const agentId = agent();
    const report = 'report' in verdict ? verdict.report : undefined;
    const evidence: RestoreEvidence = {
      asset,
      backupId: backup.backupId,
      selectedBy,
      ...(agentId ? { restoredBy: `agent:${agentId}` } : {}),
      startedAt,
      endedAt: nowIso(),
      ...(report?.target ? { target: report.target } : {}),
      ...(report?.checksum ? { checksum: report.checksum } : {}),
      result: verdict.passed ? 'passed' : 'failed',
      ...(verdict.passed ? {} : { reason: verdict.reason }),
    };
    const routed = resolveStep(run.slice, 'backup.restore-test', { asset });
    const responsible = routed.ok ? routed.step.responsible.party : run.providerId;
    const informed = routed.ok ? routed.step.informed : [];
    // The client sees the evidence itself, not only that the step ended.
    const outbox: OutboxInput[] = informed.map((partyId) => ({
      effectKey: `${run.processId}:restore-test.evidence:${partyId}`,
      partyId,
      event: 'restore-test.evidence',
      payload: { processId: run.processId, processType: run.start.processType, contractId: run.start.contractId, stepKey: 'backup.restore-test', ...evidence },
    }));
    await run.attest({ stepKey: 'backup.restore-test', event: 'restore-test.evidence', partyId: responsible, ...(agentId ? { actor: `agent:${agentId}` } : {}), clause: routed.ok ? routed.step.clause : undefined, data: { ...evidence } }, { outbox });
    if (verdict.passed) return { asset, outcome: 'passed', evidence };
    const incident = await raiseIncident(run, { stepKey: 'backup.restore-test', asset, key, title: `Restore test of ${asset} failed`, description: `Restoring ${backup.backupId} of ${asset} to a scratch target failed: ${verdict.reason}` });
    return { asset, outcome: 'failed', evidence, incident };
  });
}
