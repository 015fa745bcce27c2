// What the backup run and the restore test share: opening a P2 incident from the process
// (idempotent per asset and day), and the agent that did a step, for the evidence.
import * as wf from '@temporalio/workflow';
import type { ProcessRun } from './process';

/** The engine activity `openIncident` (activities/processes.ts): starts an incident process, or finds the one its dedupKey started. */
export interface OpenIncidentInput {
  contractId: string;
  contractVersion: number;
  title: string;
  description: string;
  priority: 'P2';
  source: { kind: 'process'; ref: string };
  asset?: string;
  /** One incident per key: a replayed or repeated call opens nothing new. */
  dedupKey: string;
}

export interface IncidentActivities {
  openIncident(input: OpenIncidentInput): Promise<unknown>;
}

const incidents = wf.proxyActivities<IncidentActivities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5 },
});

export interface IncidentRef {
  dedupKey: string;
  /** The incident's process id, when the activity tells it. */
  processId?: string;
  /** Set when the incident could not be opened (the run goes on; the journal says so). */
  error?: string;
}

/**
 * Opens a P2 incident for `asset` and journals it (or journals why it could not be opened:
 * a backup run never stops on its own incident). The journal is written before returning.
 */
export async function raiseIncident(run: ProcessRun, p: { stepKey: string; asset: string; dedupKey: string; title: string; description: string }): Promise<IncidentRef> {
  const input: OpenIncidentInput = {
    contractId: run.start.contractId,
    contractVersion: run.start.version,
    title: p.title,
    description: p.description,
    priority: 'P2',
    source: { kind: 'process', ref: run.processId },
    asset: p.asset,
    dedupKey: p.dedupKey,
  };
  let ref: IncidentRef;
  try {
    const opened = await incidents.openIncident(input);
    const processId = typeof opened === 'object' && opened !== null && typeof (opened as { processId?: unknown }).processId === 'string' ? (opened as { processId: string }).processId : undefined;
    ref = { dedupKey: p.dedupKey, ...(processId ? { processId } : {}) };
    run.journal({ stepKey: p.stepKey, event: 'incident.opened', partyId: run.providerId, actor: 'engine:open-incident', data: { asset: p.asset, dedupKey: p.dedupKey, priority: 'P2', title: p.title, incident: processId ?? null } });
  } catch (err) {
    if (wf.isCancellation(err)) throw err;
    const error = err instanceof wf.ActivityFailure && err.cause ? err.cause.message : err instanceof Error ? err.message : String(err);
    ref = { dedupKey: p.dedupKey, error };
    run.journal({ stepKey: p.stepKey, event: 'incident.not-opened', partyId: run.providerId, data: { asset: p.asset, dedupKey: p.dedupKey, title: p.title, reason: error } });
  }
  await run.record();
  return ref;
}

/**
 * Watches which agent holds a job of the run while `until` is false; returns the last one
 * seen (an agent that took the job over after a crash replaces the first). Adds no command.
 */
export function watchAgent(run: ProcessRun, until: () => boolean): () => string | undefined {
  let seen: string | undefined;
  void wf.condition(() => {
    for (const job of run.jobs.values()) if (job.agentId !== undefined) seen = job.agentId;
    return until();
  });
  return () => seen;
}
