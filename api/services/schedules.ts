// A contract's schedules through the API: what Temporal runs for the contract in force,
// and the operators' controls. Also the sync the contract lifecycle hooks call.
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Principal } from '../../db/api-keys';
import { getContract, getContractVersion, type ContractWithParties } from '../../db/contracts';
import type { ContractRow, Schema } from '../../db/schema';
import { mayOperateSchedule } from '../../domain/authorization';
import { ContractDocument } from '../../domain/contract-document';
import { describeCalendar, schedulesOf, type ContractSchedule } from '../../domain/schedules';
import type { TemporalHandle } from '../../temporal/client';
import { deleteContractSchedules, describeSchedule, syncContractSchedules, type ScheduleMemo, type SyncResult } from '../../temporal/schedules';
import { conflict, notFound } from '../errors';
import { authorize } from './authorize';

export interface ScheduleDeps {
  db: Kysely<Schema>;
  temporal: TemporalHandle;
  log: Logger;
}

/** Same rule as services/contracts.ts (not imported: that module calls this one's sync). */
async function visibleContract(db: Kysely<Schema>, principal: Principal, contractId: string): Promise<ContractWithParties> {
  const contract = await getContract(db, contractId);
  if (!contract?.party_ids.includes(principal.partyId)) throw notFound(`contract ${contractId}`);
  return contract;
}

/** The document of a contract version, structurally (it was validated when written). */
async function documentOf(db: Kysely<Schema>, contractId: string, version: number): Promise<ContractDocument> {
  const row = await getContractVersion(db, contractId, version);
  const parsed = row && ContractDocument.safeParse(row.document);
  if (!parsed?.success) throw new Error(`contract ${contractId} v${version} does not parse`);
  return parsed.data;
}

/** Activation and amendment of an active contract: Temporal follows the version in force. */
export async function syncSchedulesOf(deps: ScheduleDeps, contract: ContractRow, version = contract.current_version): Promise<SyncResult | undefined> {
  if (contract.status !== 'active') return undefined;
  const document = await documentOf(deps.db, contract.id, version);
  return syncContractSchedules({ client: deps.temporal.client, taskQueue: deps.temporal.taskQueue, contract: document, contractVersion: version, log: deps.log });
}

/** Termination: every schedule of the contract goes. */
export async function deleteSchedulesOf(deps: ScheduleDeps, contract: ContractRow): Promise<string[]> {
  const document = await documentOf(deps.db, contract.id, contract.current_version);
  return deleteContractSchedules({ client: deps.temporal.client, contract: document, log: deps.log });
}

export interface ScheduleState {
  schedule: ContractSchedule;
  spec: string;
  exists: boolean;
  inSync: boolean;
  paused: boolean;
  note: string | null;
  nextActionTimes: Date[];
  recentActions: { scheduledAt: Date; takenAt: Date; workflowId: string }[];
}

async function stateOf(deps: ScheduleDeps, document: ContractDocument, s: ContractSchedule): Promise<ScheduleState> {
  const d = await describeSchedule(deps.temporal.client, document.id, s.name);
  return {
    schedule: s,
    spec: describeCalendar(document.schedules[s.name]!.calendar),
    exists: d !== undefined,
    inSync: (d?.action.memo as Partial<ScheduleMemo> | undefined)?.specHash === s.specHash,
    paused: d?.state.paused ?? false,
    note: d?.state.note || null,
    nextActionTimes: d?.info.nextActionTimes ?? [],
    recentActions: (d?.info.recentActions ?? []).map((a) => ({ scheduledAt: a.scheduledAt, takenAt: a.takenAt, workflowId: a.action.workflow.workflowId })),
  };
}

/** Every schedule of the contract in force, as Temporal has it; for any party of the contract. */
export async function listSchedules(deps: ScheduleDeps, principal: Principal, contractId: string): Promise<ScheduleState[]> {
  const contract = await visibleContract(deps.db, principal, contractId);
  const document = await documentOf(deps.db, contractId, contract.current_version);
  return Promise.all(schedulesOf(document).map((s) => stateOf(deps, document, s)));
}

/** One schedule an operator of the provider may act on: 404 for non-parties and unknown names, 403 for other roles. */
export async function operableSchedule(deps: ScheduleDeps, principal: Principal, contractId: string, name: string): Promise<{ contract: ContractWithParties; document: ContractDocument; schedule: ContractSchedule }> {
  const contract = await visibleContract(deps.db, principal, contractId);
  const document = await documentOf(deps.db, contractId, contract.current_version);
  const schedule = schedulesOf(document).find((s) => s.name === name);
  if (!schedule) throw notFound(`schedule ${name} of contract ${contractId}`);
  authorize(mayOperateSchedule({ actor: principal, contract: { providerId: contract.provider_id } }));
  if (!(await describeSchedule(deps.temporal.client, contractId, name))) {
    throw conflict(`schedule ${name} does not run: contract ${contractId} is ${contract.status}`, { status: contract.status });
  }
  return { contract, document, schedule };
}

export async function scheduleState(deps: ScheduleDeps, document: ContractDocument, s: ContractSchedule): Promise<ScheduleState> {
  return stateOf(deps, document, s);
}
