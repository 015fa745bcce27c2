// Engine activities that start a process from a process (docs/ARCHITECTURE.md "Processes (catalogue)": a failed backup opens
// an incident). Like the API, they register the process row first, then start its workflow
// idempotently, so a retried activity opens nothing twice.
import { ApplicationFailure } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { Kysely } from 'kysely';
import type { Schema } from '../db/schema';
import { getContract, getContractVersion } from '../db/contracts';
import { ContractDocument } from '../domain/contract-document';
import { deleteContractSchedules, syncContractSchedules } from '../temporal/schedules';
import { registerProcess } from '../db/processes';
import { IncidentInput } from '../domain/catalogue';
import { processIdFor, startProcessWorkflow, type StartOf } from '../temporal/start';

export interface ProcessActivityDeps {
  db: Kysely<Schema>;
  /** A client with the engine's payload codec. */
  client: Client;
  taskQueue: string;
}

/** What a process gives to open an incident about what went wrong in it. */
export interface OpenIncidentInput {
  contractId: string;
  /** The version the opening process runs under: its slice covered the incident keys. */
  contractVersion: number;
  /** The opening process: its id is the incident's source, its requester the incident's. */
  openedBy: { processId: string; requestedBy: { userId: string; partyId: string } };
  /**
   * What this incident is about within the opening process (e.g. `verify:srv-erp-01`):
   * the same key opens the same incident, so retries and replays open one.
   */
  key: string;
  title: string;
  description?: string;
  priority?: 'P1' | 'P2' | 'P3' | 'P4';
  asset?: string;
}

export interface OpenedIncident {
  processId: string;
  /** false: the incident existed already (a retry, or a second call with the same key). */
  created: boolean;
  status: 'running' | 'completed' | 'failed' | 'cancelled';
}

/** `mandate:<contract>:<type>:<key>` → `<type>:<key>:<what>`: unique per opening process and key. */
export function incidentKeyFor(openedBy: string, key: string): string {
  return `${openedBy.replace(/^mandate:[^:]+:/, '')}:${key}`;
}

export function createProcessActivities({ db, client, taskQueue }: ProcessActivityDeps) {
  /** The document of the version in force. */
  async function documentInForce(contractId: string) {
    const contract = await getContract(db, contractId);
    if (!contract) throw ApplicationFailure.nonRetryable(`contract ${contractId} not found`, 'ContractNotFound');
    const row = await getContractVersion(db, contractId, contract.current_version);
    const parsed = row && ContractDocument.safeParse(row.document);
    if (!parsed?.success) throw ApplicationFailure.nonRetryable(`contract ${contractId} v${contract.current_version} does not parse`, 'ContractNotFound');
    return { contract, document: parsed.data };
  }

  return {
    /**
     * Once a signed version is in force (an amendment signed, a contract activated): Temporal's
     * schedules follow it, once. A contract not active has none; the sync is idempotent (hash in the memo).
     */
    async syncContractSchedules({ contractId }: { contractId: string }): Promise<{ created: number; updated: number; deleted: number } | null> {
      const { contract, document } = await documentInForce(contractId);
      if (contract.status !== 'active') return null;
      const synced = await syncContractSchedules({ client, taskQueue, contract: document, contractVersion: contract.current_version });
      return { created: synced.created.length, updated: synced.updated.length, deleted: synced.deleted.length };
    },

    /** The exit ended: every schedule of the contract goes. */
    async deleteContractSchedules({ contractId }: { contractId: string }): Promise<number> {
      const { document } = await documentInForce(contractId);
      return (await deleteContractSchedules({ client, contract: document })).length;
    },

    /** Registers and starts an incident workflow; idempotent on (contract, opening process, key). */
    async openIncident(request: OpenIncidentInput): Promise<OpenedIncident> {
      const input = IncidentInput.safeParse({
        title: request.title,
        description: request.description,
        priority: request.priority,
        source: { kind: 'process', ref: request.openedBy.processId },
        asset: request.asset,
      });
      if (!input.success) throw ApplicationFailure.nonRetryable(`invalid incident: ${input.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`, 'InvalidInput');
      const contract = await getContract(db, request.contractId);
      if (!contract) throw ApplicationFailure.nonRetryable(`contract ${request.contractId} not found`, 'ContractNotFound');
      const businessKey = incidentKeyFor(request.openedBy.processId, request.key);
      const id = processIdFor(request.contractId, 'incident', businessKey);
      const { process, created } = await registerProcess(db, {
        id,
        contractId: request.contractId,
        contractVersion: request.contractVersion,
        processType: 'incident',
        businessKey,
        requestedBy: request.openedBy.requestedBy.userId,
        requestedByParty: request.openedBy.requestedBy.partyId,
      });
      // The row outlives Temporal's retention: an incident that ended is never run again.
      if (process.status !== 'running') return { processId: id, created: false, status: process.status };
      const start: StartOf<'incident'> = {
        contractId: request.contractId,
        version: process.contract_version,
        processType: 'incident',
        businessKey,
        requestedBy: { userId: process.requested_by, partyId: process.requested_by_party },
        input: input.data,
      };
      await startProcessWorkflow(client, 'incident', start, { taskQueue, clientId: contract.client_id });
      return { processId: id, created, status: 'running' };
    },
  };
}

export type ProcessActivities = ReturnType<typeof createProcessActivities>;
