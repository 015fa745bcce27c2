// The process index: one row per workflow, unique per (contract, process type, business key).
import { sql, type Expression, type Kysely, type SqlBool } from 'kysely';
import type { ContractStatus, ProcessRow, ProcessStatus, Schema } from './schema';

export interface RegisterProcessInput {
  /** The Temporal workflow id: `mandate:<contractId>:<processType>:<businessKey>`. */
  id: string;
  contractId: string;
  contractVersion: number;
  processType: string;
  businessKey: string;
  requestedBy: string;
  requestedByParty: string;
  currentStep?: string | null;
  startedAt?: Date | string;
}

/**
 * Records a process once. A second registration of the same business key (even concurrent)
 * inserts nothing and returns the existing row, so callers start the workflow it names.
 */
export async function registerProcess(
  db: Kysely<Schema>,
  input: RegisterProcessInput,
): Promise<{ process: ProcessRow; created: boolean }> {
  const inserted = await db
    .insertInto('processes')
    .values({
      id: input.id,
      contract_id: input.contractId,
      contract_version: input.contractVersion,
      process_type: input.processType,
      business_key: input.businessKey,
      requested_by: input.requestedBy,
      requested_by_party: input.requestedByParty,
      current_step: input.currentStep ?? null,
      ...(input.startedAt ? { started_at: input.startedAt } : {}),
    })
    .onConflict((oc) => oc.columns(['contract_id', 'process_type', 'business_key']).doNothing())
    .returningAll()
    .executeTakeFirst();
  if (inserted) return { process: inserted, created: true };
  // ON CONFLICT waited for the winner to commit, so this new statement sees its row.
  const existing = await db
    .selectFrom('processes')
    .selectAll()
    .where('contract_id', '=', input.contractId)
    .where('process_type', '=', input.processType)
    .where('business_key', '=', input.businessKey)
    .executeTakeFirstOrThrow();
  return { process: existing, created: false };
}

/** What the caller checked the contract against: the insert happens only if it still holds. */
export interface ContractGuard {
  statuses: readonly ContractStatus[];
  providerId: string;
  clientId: string;
}

/**
 * Registers a process in one statement that also re-reads the contract: the row is inserted
 * only if the contract is still at `input.contractVersion`, in one of `guard.statuses`, with
 * the same provider and client. Undefined when it is not, or when the business key exists
 * already: the caller then takes the slow path (read the contract, check, registerProcess).
 * This is what lets the API check a start against a cached contract row.
 */
export function registerProcessUnderContract(db: Kysely<Schema>, input: RegisterProcessInput, guard: ContractGuard): Promise<ProcessRow | undefined> {
  return db
    .insertInto('processes')
    .columns(['id', 'contract_id', 'contract_version', 'process_type', 'business_key', 'requested_by', 'requested_by_party'])
    .expression((eb) =>
      eb
        .selectFrom('contracts as c')
        .select([
          sql<string>`${input.id}::text`.as('id'),
          'c.id as contract_id',
          'c.current_version as contract_version',
          sql<string>`${input.processType}::text`.as('process_type'),
          sql<string>`${input.businessKey}::text`.as('business_key'),
          sql<string>`${input.requestedBy}::text`.as('requested_by'),
          sql<string>`${input.requestedByParty}::text`.as('requested_by_party'),
        ])
        .where('c.id', '=', input.contractId)
        .where('c.current_version', '=', input.contractVersion)
        .where('c.status', 'in', guard.statuses)
        .where('c.provider_id', '=', guard.providerId)
        .where('c.client_id', '=', guard.clientId),
    )
    .onConflict((oc) => oc.columns(['contract_id', 'process_type', 'business_key']).doNothing())
    .returningAll()
    .executeTakeFirst();
}

export function getProcess(db: Kysely<Schema>, id: string): Promise<ProcessRow | undefined> {
  return db.selectFrom('processes').selectAll().where('id', '=', id).executeTakeFirst();
}

export interface ProcessStateChange {
  status?: ProcessStatus;
  currentStep?: string | null;
  endedAt?: Date | string | null;
}

/**
 * Mirrors the workflow's state into the index. An ended process (completed, failed,
 * cancelled) never goes back to running: a late retry of an older activity changes nothing.
 */
export async function recordProcessState(
  db: Kysely<Schema>,
  id: string,
  change: ProcessStateChange,
): Promise<ProcessRow | undefined> {
  const ends = change.status !== undefined && change.status !== 'running';
  const endedAt = change.endedAt !== undefined ? { ended_at: change.endedAt } : ends ? { ended_at: sql<Date>`coalesce(ended_at, now())` } : {};
  const set = {
    ...(change.status !== undefined ? { status: change.status } : {}),
    ...(change.currentStep !== undefined ? { current_step: change.currentStep } : {}),
    ...endedAt,
  };
  if (Object.keys(set).length === 0) return getProcess(db, id);
  let query = db.updateTable('processes').set(set).where('id', '=', id);
  if (change.status === 'running') query = query.where('status', '=', 'running');
  return query.returningAll().executeTakeFirst();
}

export interface ProcessFilter {
  contractId?: string;
  /** Only processes of contracts this party is part of. */
  partyId?: string;
  processType?: string;
  status?: ProcessStatus[];
  limit?: number;
  /** The last id of the previous page. */
  afterId?: string;
}

/** Processes ordered by id (workflow ids group by contract then type), a page at a time. */
export function listProcesses(db: Kysely<Schema>, filter: ProcessFilter = {}): Promise<ProcessRow[]> {
  let query = db.selectFrom('processes as p').selectAll('p').orderBy('p.id').limit(Math.min(filter.limit ?? 100, 1000));
  if (filter.contractId) query = query.where('p.contract_id', '=', filter.contractId);
  if (filter.partyId) {
    const partyId = filter.partyId;
    query = query.where('p.contract_id', 'in', (eb) =>
      eb.selectFrom('contract_parties').select('contract_id').where('party_id', '=', partyId),
    );
  }
  if (filter.processType) query = query.where('p.process_type', '=', filter.processType);
  if (filter.status?.length) query = query.where('p.status', 'in', filter.status);
  if (filter.afterId) query = query.where('p.id', '>', filter.afterId);
  return query.execute();
}

/**
 * The process (`p`) is one the party holds or held a role in: the provider or the client of
 * its contract, or a third party with a task, an agent job or a journal entry naming it (its
 * party, or R, A, C or I of a step). docs/ARCHITECTURE.md "Trust boundaries".
 */
function roleInProcess(partyId: string): Expression<SqlBool> {
  const named = sql<SqlBool>`(e.party_id = ${partyId}
    or e.data -> 'responsible' ->> 'party' = ${partyId}
    or e.data ->> 'accountable' = ${partyId}
    or coalesce(e.data -> 'consulted', '[]'::jsonb) @> jsonb_build_array(${partyId}::text)
    or coalesce(e.data -> 'informed', '[]'::jsonb) @> jsonb_build_array(${partyId}::text))`;
  return sql<SqlBool>`(
    p.contract_id in (select c.id from contracts c where c.provider_id = ${partyId} or c.client_id = ${partyId})
    or (p.contract_id in (select cp.contract_id from contract_parties cp where cp.party_id = ${partyId})
      and (exists (select 1 from tasks t where t.process_id = p.id and t.party_id = ${partyId})
        or exists (select 1 from agent_jobs j where j.process_id = p.id and j.party_id = ${partyId})
        or exists (select 1 from journal e where e.process_id = p.id and jsonb_typeof(e.data) = 'object' and ${named}))))`;
}

/** Whether the party holds or held a role in the process (its own view of it exists). */
export async function holdsRoleInProcess(db: Kysely<Schema>, processId: string, partyId: string): Promise<boolean> {
  const row = await db.selectFrom('processes as p').select('p.id').where('p.id', '=', processId).where(roleInProcess(partyId)).executeTakeFirst();
  return row !== undefined;
}

export interface ProcessPageFilter {
  /** Only processes this party holds or held a role in (all of its contracts' for their provider and client). */
  partyId: string;
  contractId?: string;
  processType?: string;
  status?: ProcessStatus[];
  startedAfter?: Date;
  startedBefore?: Date;
  limit: number;
  /** The last row of the previous page: its start instant (microseconds, as text) and id. */
  after?: { startedAt: string; id: string };
}

export type ProcessPageRow = ProcessRow & { started_key: string };

/**
 * Processes newest first, then by id. The cursor keeps the start instant as PostgreSQL's
 * own microsecond text, since a JavaScript Date would round it and skip or repeat rows.
 */
export async function listProcessesPage(db: Kysely<Schema>, filter: ProcessPageFilter): Promise<{ processes: ProcessPageRow[]; more: boolean }> {
  const partyId = filter.partyId;
  let query = db
    .selectFrom('processes as p')
    .selectAll('p')
    .select(sql<string>`to_char(p.started_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as('started_key'))
    .where(roleInProcess(partyId))
    .orderBy('p.started_at', 'desc')
    .orderBy('p.id', 'desc')
    .limit(filter.limit + 1);
  if (filter.contractId) query = query.where('p.contract_id', '=', filter.contractId);
  if (filter.processType) query = query.where('p.process_type', '=', filter.processType);
  if (filter.status?.length) query = query.where('p.status', 'in', filter.status);
  if (filter.startedAfter) query = query.where('p.started_at', '>=', filter.startedAfter);
  if (filter.startedBefore) query = query.where('p.started_at', '<', filter.startedBefore);
  if (filter.after) {
    const { startedAt, id } = filter.after;
    query = query.where(sql<boolean>`(p.started_at, p.id) < (${startedAt}::timestamptz, ${id})`);
  }
  const rows = await query.execute();
  return { processes: rows.slice(0, filter.limit), more: rows.length > filter.limit };
}
