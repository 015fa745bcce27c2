// What the backup run and the restore test share: opening a P2 incident from the process
// (idempotent per asset and day), and the agent that did a step, for the evidence.
import * as wf from '@temporalio/workflow';
import type { OpenIncidentInput, ProcessActivities } from '../activities/processes';
import type { ProcessRun } from './process';
import { failureReason } from './kernel/failure';

// The engine activity of activities/processes.ts: registers and starts an incident process,
// once per (opening process, key).
const incidents = wf.proxyActivities<ProcessActivities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5 },
});

export interface IncidentRef {
  /** What the incident is about within this run (`<asset>:<day>`): one incident per key. */
  key: string;
  /** The incident's process id. */
  processId?: string;
  /** false: it was opened before (a retry, or another problem of the same asset that day). */
  created?: boolean;
  /** Set when the incident could not be opened (the run goes on; the journal says so). */
  error?: string;
}

/**
 * Opens a P2 incident for `asset` and journals it (or journals why it could not be opened:
 * a backup run never stops on its own incident). The journal is written before returning.
 */
export async function raiseIncident(run: ProcessRun, p: { stepKey: string; asset: string; key: string; title: string; description: string }): Promise<IncidentRef> {
  const input: OpenIncidentInput = {
    contractId: run.start.contractId,
    contractVersion: run.start.version,
    openedBy: { processId: run.processId, requestedBy: run.start.requestedBy },
    key: p.key,
    title: p.title,
    description: p.description,
    priority: 'P2',
    asset: p.asset,
  };
  let ref: IncidentRef;
  try {
    const opened = await incidents.openIncident(input);
    ref = { key: p.key, processId: opened.processId, created: opened.created };
    run.note({ stepKey: p.stepKey, event: 'incident.opened', partyId: run.providerId, actor: 'engine:open-incident', data: { asset: p.asset, key: p.key, priority: 'P2', title: p.title, incident: opened.processId, created: opened.created } });
  } catch (err) {
    if (wf.isCancellation(err)) throw err;
    const error = failureReason(err);
    ref = { key: p.key, error };
    run.note({ stepKey: p.stepKey, event: 'incident.not-opened', partyId: run.providerId, data: { asset: p.asset, key: p.key, title: p.title, reason: error } });
  }
  await run.attest();
  return ref;
}

/**
 * Watches which agent holds a job of the run while `until` is false; returns the last one
 * seen (an agent that took the job over after a crash replaces the first). Adds no command.
 */
export function watchAgent(run: ProcessRun, until: () => boolean): () => string | undefined {
  let seen: string | undefined;
  void wf.condition(() => {
    for (const agentId of run.jobs.agents()) seen = agentId;
    return until();
  });
  return () => seen;
}
