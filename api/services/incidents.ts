// Monitoring alerts → incidents. The alert key is the incident's business key, so repeats
// of an open incident land in its workflow (signalWithStart: journaled and counted); once
// it ended, the next alert opens `<alertKey>#2`, then `#3`, decided from the process index.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { sql, type Kysely } from 'kysely';
import type { Schema, ProcessRow } from '../../db/schema';
import { getContract, getContractVersion } from '../../db/contracts';
import { registerProcess } from '../../db/processes';
import { parseContract } from '../../domain/contract';
import { coverage } from '../../domain/coverage';
import { IncidentInput } from '../../domain/catalogue';
import type { IncidentAlert } from '../../workflows/definitions';
import type { TemporalHandle } from '../../temporal/client';
import { processIdFor, signalWithStartIncident, type StartOf } from '../../temporal/start';
import { badRequest, fieldErrors, Problem, unprocessable } from '../errors';
import { countProcessStarted } from '../observability';

/** How far the signature's timestamp may be from now (replays of an old alert are refused). */
export const SIGNATURE_TOLERANCE_S = 300;

/**
 * Checks `Mandate-Signature: t=<unix>,v1=<hex>` (several v1 allowed) against
 * HMAC-SHA256(secret, "<t>.<raw body>") for any of the secrets, within the tolerance.
 */
export function verifySignature(header: string | undefined, rawBody: Buffer | undefined, secrets: readonly string[], nowSeconds: number): boolean {
  if (!header || !rawBody || secrets.length === 0) return false;
  const parts = header.split(',').map((p) => p.trim().split('=', 2) as [string, string | undefined]);
  const t = parts.find(([k]) => k === 't')?.[1];
  const signatures = parts.filter(([k, v]) => k === 'v1' && v !== undefined && /^[0-9a-f]{64}$/i.test(v)).map(([, v]) => Buffer.from(v!, 'hex'));
  if (!t || !/^\d{1,12}$/.test(t) || Math.abs(nowSeconds - Number(t)) > SIGNATURE_TOLERANCE_S || signatures.length === 0) return false;
  return secrets.some((secret) => {
    const expected = createHmac('sha256', secret).update(`${t}.`, 'utf8').update(rawBody).digest();
    return signatures.some((s) => s.length === expected.length && timingSafeEqual(s, expected));
  });
}

/** The unix time a `Mandate-Signature` header says it was signed at (checked by verifySignature). */
export function signedAt(header: string | undefined): number | undefined {
  const t = header?.split(',').map((p) => p.trim().split('=', 2)).find(([k]) => k === 't')?.[1];
  return t !== undefined && /^\d{1,12}$/.test(t) ? Number(t) : undefined;
}

/**
 * What makes a signed alert one delivery: the alert's own id when it gives one, else the
 * digest of exactly what was signed (timestamp and raw body), so a byte-identical replay
 * inside the window is recognised whatever else of the header changed.
 */
export function alertNonce(alertId: string | undefined, t: number, rawBody: Buffer): string {
  if (alertId !== undefined) return `id:${alertId}`;
  return `sig:${createHash('sha256').update(`${t}.`, 'utf8').update(rawBody).digest('hex')}`;
}

export interface MonitoringAlert {
  alertKey: string;
  title: string;
  description?: string;
  priority?: 'P1' | 'P2' | 'P3' | 'P4';
  asset?: string;
  /** The monitoring system's id of this alert (a signed alert is accepted once per id). */
  id?: string;
}

export interface AlertSender {
  /** Journaled as the alert's actor: `signature` or `agent:<agentId>`. */
  via: string;
  /** Who opens the incident: the provider's monitoring. */
  requestedBy: { userId: string; partyId: string };
}

/** The n of `<alertKey>` (1) or `<alertKey>#<n>`. */
function ordinalOf(alertKey: string, businessKey: string): number {
  if (businessKey === alertKey) return 1;
  const n = Number(businessKey.slice(alertKey.length + 1));
  return Number.isInteger(n) && n > 1 ? n : 0;
}

/** The latest incident opened for an alert key, if any. */
async function latestIncidentFor(db: Kysely<Schema>, contractId: string, alertKey: string): Promise<ProcessRow | undefined> {
  const rows = await db
    .selectFrom('processes')
    .selectAll()
    .where('contract_id', '=', contractId)
    .where('process_type', '=', 'incident')
    .where((eb) => eb.or([eb('business_key', '=', alertKey), eb(sql<boolean>`starts_with(business_key, ${`${alertKey}#`})`, '=', true)]))
    .execute();
  return rows.reduce<ProcessRow | undefined>((best, row) => (ordinalOf(alertKey, row.business_key) > (best ? ordinalOf(alertKey, best.business_key) : 0) ? row : best), undefined);
}

/**
 * Opens an incident for the alert, or adds the alert to the open one. `created` is false
 * when it was deduplicated into a running incident.
 */
export async function receiveAlert(
  deps: { db: Kysely<Schema>; temporal: TemporalHandle },
  contractId: string,
  alert: MonitoringAlert,
  sender: AlertSender,
): Promise<{ process: ProcessRow; created: boolean }> {
  const { db, temporal } = deps;
  const contract = await getContract(db, contractId);
  if (!contract) throw new Problem(404, 'not-found', 'Not found', `contract ${contractId} not found`);
  if (contract.status !== 'active' && contract.status !== 'transition') {
    throw unprocessable('contract-not-active', 'Contract not active', `contract ${contractId} is ${contract.status}: processes run only under an active contract`);
  }
  const version = await getContractVersion(db, contractId, contract.current_version);
  const parsed = version && parseContract(version.document);
  if (!parsed?.ok) throw new Error(`contract ${contractId} v${contract.current_version} does not parse`);
  const covered = coverage(parsed.contract, 'incident');
  if (!covered.covered) {
    throw unprocessable('not-covered', 'Not covered by the contract', `contract ${contractId} does not cover incident`, { missingServices: covered.missingServices, missingActivities: covered.missingActivities });
  }
  const input = IncidentInput.safeParse({ title: alert.title, description: alert.description, priority: alert.priority, source: { kind: 'monitoring', ref: alert.alertKey }, asset: alert.asset });
  if (!input.success) throw badRequest('the alert does not make a valid incident', fieldErrors(input.error, 'body'));
  const signal: IncidentAlert = {
    alertKey: alert.alertKey,
    title: alert.title,
    ...(alert.priority !== undefined && { priority: alert.priority }),
    receivedAt: new Date().toISOString(),
    via: sender.via,
    ...(alert.id !== undefined && { alertId: alert.id }),
  };

  // A run that closes between the read and the signal refuses it (REJECT_DUPLICATE): try the next key.
  for (let attempt = 0; attempt < 5; attempt++) {
    const latest = await latestIncidentFor(db, contractId, alert.alertKey);
    let target: { process: ProcessRow; created: boolean };
    if (latest?.status === 'running') target = { process: latest, created: false };
    else {
      const ordinal = latest ? ordinalOf(alert.alertKey, latest.business_key) + 1 : 1;
      const businessKey = ordinal === 1 ? alert.alertKey : `${alert.alertKey}#${ordinal}`;
      target = await registerProcess(db, {
        id: processIdFor(contractId, 'incident', businessKey),
        contractId,
        contractVersion: contract.current_version,
        processType: 'incident',
        businessKey,
        requestedBy: sender.requestedBy.userId,
        requestedByParty: sender.requestedBy.partyId,
      });
      if (target.process.status !== 'running') continue;
    }
    const { process } = target;
    const start: StartOf<'incident'> = {
      contractId,
      version: process.contract_version,
      processType: 'incident',
      businessKey: process.business_key,
      requestedBy: { userId: process.requested_by, partyId: process.requested_by_party },
      input: input.data,
    };
    try {
      await signalWithStartIncident(temporal.client, start, { taskQueue: temporal.taskQueue, clientId: contract.client_id }, signal);
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        // Closed in Temporal: its row says so once the run's last write landed; read again.
        await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
        continue;
      }
      throw err;
    }
    if (target.created) countProcessStarted('incident');
    return target;
  }
  throw new Problem(503, 'busy', 'Try again', `the incident for alert ${alert.alertKey} was closing: send the alert again`);
}
