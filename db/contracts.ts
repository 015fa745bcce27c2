// Contracts and their immutable versions: an amendment is a new version, never an edit.
import { sql, type Kysely } from 'kysely';
import { jsonb } from './json';
import { writeContractParties, writeNewParties, type ContractPartiesView } from './parties';
import { inTransaction } from './transaction';
import type { ContractRow, ContractStatus, ContractVersionRow, ContractVersionState, Schema } from './schema';

export interface CreateContractInput {
  id: string;
  providerId: string;
  clientId: string;
  /** Every party of the contract; the provider and the client are added when missing. */
  partyIds: string[];
  currency: string;
  document: unknown;
  createdBy?: string | null;
  /** `proposed` (the API: both parties sign first) or `signed` (the example loader's bootstrap). */
  state?: 'proposed' | 'signed';
  documentSha256?: string;
}

export type ContractWithParties = ContractRow & { party_ids: string[] };

/** Creates the contract at version 1 in status draft; a second call with the same id creates nothing. */
export async function createContract(
  db: Kysely<Schema>,
  input: CreateContractInput,
): Promise<{ contract: ContractWithParties; created: boolean }> {
  const created = await inTransaction(db, async (trx) => {
    const inserted = await trx
      .insertInto('contracts')
      .values({
        id: input.id,
        provider_id: input.providerId,
        client_id: input.clientId,
        status: 'draft',
        current_version: 1,
        currency: input.currency,
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!inserted) return false;
    await addParties(trx, input.id, [input.providerId, input.clientId, ...input.partyIds]);
    await trx
      .insertInto('contract_versions')
      .values({ contract_id: input.id, version: 1, document: jsonb(input.document), created_by: input.createdBy ?? null })
      .execute();
    if (input.state === 'proposed') {
      await trx.insertInto('contract_proposals').values({ contract_id: input.id, version: 1, document_sha256: input.documentSha256 ?? '', proposed_by: input.createdBy ?? '' }).execute();
    }
    return true;
  });
  const contract = await getContract(db, input.id);
  if (!contract) throw new Error(`contract ${input.id} vanished after its creation`);
  return { contract, created };
}

export interface AddContractVersionInput {
  contractId: string;
  document: unknown;
  createdBy?: string | null;
  /** Parties the amendment brings in (existing ones are kept). */
  partyIds?: string[];
}

/** Adds the next version and makes it current. Undefined when the contract does not exist. */
export async function addContractVersion(
  db: Kysely<Schema>,
  input: AddContractVersionInput,
): Promise<ContractVersionRow | undefined> {
  return inTransaction(db, async (trx) => {
    // The row lock on the contract serialises concurrent amendments.
    const bumped = await trx
      .updateTable('contracts')
      .set((eb) => ({ current_version: eb('current_version', '+', 1), updated_at: sql<Date>`now()` }))
      .where('id', '=', input.contractId)
      .returning('current_version')
      .executeTakeFirst();
    if (!bumped) return undefined;
    if (input.partyIds?.length) await addParties(trx, input.contractId, input.partyIds);
    return trx
      .insertInto('contract_versions')
      .values({
        contract_id: input.contractId,
        version: bumped.current_version,
        document: jsonb(input.document),
        created_by: input.createdBy ?? null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  });
}

/** Sets the status; with `from`, only when the current status is one of those. Undefined when nothing changed. */
export function setContractStatus(
  db: Kysely<Schema>,
  id: string,
  status: ContractStatus,
  options: { from?: ContractStatus[]; termination?: { by: string; reason: string } } = {},
): Promise<ContractRow | undefined> {
  const termination = options.termination
    ? { terminated_at: sql<Date>`now()`, terminated_by: options.termination.by, termination_reason: options.termination.reason }
    : {};
  let query = db.updateTable('contracts').set({ status, updated_at: sql<Date>`now()`, ...termination }).where('id', '=', id);
  if (options.from) {
    if (options.from.length === 0) return Promise.resolve(undefined);
    query = query.where('status', 'in', options.from);
  }
  return query.returningAll().executeTakeFirst();
}

function withPartyIds(db: Kysely<Schema>) {
  return db
    .selectFrom('contracts as c')
    .selectAll('c')
    .select(
      sql<string[]>`array(select cp.party_id from contract_parties cp where cp.contract_id = c.id order by cp.party_id)`.as(
        'party_ids',
      ),
    );
}

/**
 * What a contract document writes: its parties, users and agents, then the contract at
 * version 1 (a draft). Run it in a transaction to have both or neither.
 */
export async function createContractFromDocument(
  db: Kysely<Schema>,
  document: ContractPartiesView & { id: string; currency: string },
  roles: { providerId: string; clientId: string; createdBy?: string; proposal?: { documentSha256: string } },
): Promise<{ contract: ContractWithParties; created: boolean }> {
  // A proposal writes only the parties the document brings in; the bootstrap loader writes them all.
  await (roles.proposal ? writeNewParties(db, document) : writeContractParties(db, document));
  return createContract(db, {
    id: document.id,
    providerId: roles.providerId,
    clientId: roles.clientId,
    partyIds: document.parties.map((p) => p.id),
    currency: document.currency,
    document,
    ...(roles.createdBy !== undefined ? { createdBy: roles.createdBy } : {}),
    ...(roles.proposal ? { state: 'proposed' as const, documentSha256: roles.proposal.documentSha256 } : {}),
  });
}

export interface ProposeVersionInput {
  contractId: string;
  document: unknown;
  documentSha256: string;
  createdBy: string;
  /** Parties the amendment brings in (existing ones are kept). */
  partyIds: string[];
}

/**
 * An amendment proposed: the next version, `proposed`, not in force. A draft points at its
 * latest proposal (nothing runs under a draft); a signed contract keeps its version until both
 * parties sign. One proposal at a time: undefined when one is open (its process still running).
 * Run it in a transaction: the contract row is locked.
 */
export async function proposeVersion(trx: Kysely<Schema>, input: ProposeVersionInput): Promise<{ version: ContractVersionWithState } | { open: ContractVersionWithState } | undefined> {
  const contract = await trx.selectFrom('contracts').select(['id', 'status']).where('id', '=', input.contractId).forUpdate().executeTakeFirst();
  if (!contract) return undefined;
  const open = await openProposal(trx, input.contractId);
  if (open) return { open };
  const last = await trx.selectFrom('contract_versions').select((eb) => eb.fn.max('version').as('v')).where('contract_id', '=', input.contractId).executeTakeFirstOrThrow();
  const next = Number(last.v ?? 0) + 1;
  await addParties(trx, input.contractId, input.partyIds);
  await trx.insertInto('contract_versions').values({ contract_id: input.contractId, version: next, document: jsonb(input.document), created_by: input.createdBy }).execute();
  await trx.insertInto('contract_proposals').values({ contract_id: input.contractId, version: next, document_sha256: input.documentSha256, proposed_by: input.createdBy }).execute();
  if (contract.status === 'draft') await trx.updateTable('contracts').set({ current_version: next, updated_at: sql<Date>`now()` }).where('id', '=', input.contractId).execute();
  const version = await getContractVersion(trx, input.contractId, next);
  if (!version) throw new Error(`version ${next} of ${input.contractId} vanished`);
  return { version };
}

/** A version with what its proposal says: `signed` when it had none (in force from the start). */
export type ContractVersionWithState = ContractVersionRow & { state: ContractVersionState; document_sha256: string | null; proposal_process_id: string | null; decided_at: Date | null };

function versionsWithState(db: Kysely<Schema>) {
  return db
    .selectFrom('contract_versions as v')
    .leftJoin('contract_proposals as p', (join) => join.onRef('p.contract_id', '=', 'v.contract_id').onRef('p.version', '=', 'v.version'))
    .selectAll('v')
    .select([
      sql<ContractVersionState>`coalesce(p.state, 'signed')`.as('state'),
      'p.document_sha256',
      'p.process_id as proposal_process_id',
      'p.decided_at',
    ]);
}

/** The proposal of a contract still waiting for signatures: its process runs (or has not been started yet). */
export async function openProposal(db: Kysely<Schema>, contractId: string): Promise<ContractVersionWithState | undefined> {
  return versionsWithState(db)
    .where('v.contract_id', '=', contractId)
    .where('p.state', '=', 'proposed')
    .where((eb) => eb.or([eb('p.process_id', 'is', null), eb.exists(eb.selectFrom('processes as pr').select('pr.id').whereRef('pr.id', '=', 'p.process_id').where('pr.status', '=', 'running'))]))
    .orderBy('v.version', 'desc')
    .executeTakeFirst();
}

export function setProposalProcess(db: Kysely<Schema>, contractId: string, version: number, processId: string): Promise<unknown> {
  return db.updateTable('contract_proposals').set({ process_id: processId }).where('contract_id', '=', contractId).where('version', '=', version).execute();
}

/**
 * What Mandate's contract processes change, written with their journal entry in one
 * transaction (activities/engine.ts recordStep). Every part is idempotent: a retried write
 * changes nothing more.
 */
export interface ContractChange {
  contractId: string;
  /** Both parties signed: the version is in force; a draft enters transition. */
  adopt?: { version: number };
  /** The proposal ended unsigned (declined, lapsed, cancelled). */
  decline?: { version: number };
  /** A lifecycle step, only from the given statuses. */
  status?: { to: ContractStatus; from: ContractStatus[]; termination?: { by: string; reason: string } };
}

export async function applyContractChange(trx: Kysely<Schema>, change: ContractChange): Promise<void> {
  if (change.adopt) {
    const { version } = change.adopt;
    const signed = await trx
      .updateTable('contract_proposals')
      .set({ state: 'signed', decided_at: sql<Date>`now()` })
      .where('contract_id', '=', change.contractId)
      .where('version', '=', version)
      .where('state', '=', 'proposed')
      .returning('version')
      .executeTakeFirst();
    if (signed) {
      await trx
        .updateTable('contracts')
        .set((eb) => ({
          current_version: version,
          status: eb.case().when('status', '=', 'draft').then(sql<ContractStatus>`'transition'`).else(eb.ref('status')).end(),
          updated_at: sql<Date>`now()`,
        }))
        .where('id', '=', change.contractId)
        .where('current_version', '<=', version)
        .execute();
    }
  }
  if (change.decline) {
    await trx
      .updateTable('contract_proposals')
      .set({ state: 'declined', decided_at: sql<Date>`now()` })
      .where('contract_id', '=', change.contractId)
      .where('version', '=', change.decline.version)
      .where('state', '=', 'proposed')
      .execute();
  }
  if (change.status) await setContractStatus(trx, change.contractId, change.status.to, { from: change.status.from, termination: change.status.termination });
}

export function getContract(db: Kysely<Schema>, id: string): Promise<ContractWithParties | undefined> {
  return withPartyIds(db).where('c.id', '=', id).executeTakeFirst();
}

export function getContractVersion(db: Kysely<Schema>, id: string, version: number): Promise<ContractVersionWithState | undefined> {
  return versionsWithState(db).where('v.contract_id', '=', id).where('v.version', '=', version).executeTakeFirst();
}

/** The contracts a party is part of: what a principal of that party may see. */
export function listContractsForParty(
  db: Kysely<Schema>,
  partyId: string,
  filter: { status?: ContractStatus[] } = {},
): Promise<ContractWithParties[]> {
  let query = withPartyIds(db)
    .where('c.id', 'in', (eb) => eb.selectFrom('contract_parties').select('contract_id').where('party_id', '=', partyId))
    .orderBy('c.id');
  if (filter.status?.length) query = query.where('c.status', 'in', filter.status);
  return query.execute();
}

export interface ContractPageFilter {
  partyId: string;
  status?: ContractStatus[];
  limit: number;
  /** The last contract id of the previous page. */
  afterId?: string;
}

/** A page of the contracts a party is part of, by id; one more row than asked tells a next page exists. */
export async function listContractsPage(db: Kysely<Schema>, filter: ContractPageFilter): Promise<{ contracts: ContractWithParties[]; more: boolean }> {
  let query = withPartyIds(db)
    .where('c.id', 'in', (eb) => eb.selectFrom('contract_parties').select('contract_id').where('party_id', '=', filter.partyId))
    .orderBy('c.id')
    .limit(filter.limit + 1);
  if (filter.status?.length) query = query.where('c.status', 'in', filter.status);
  if (filter.afterId !== undefined) query = query.where('c.id', '>', filter.afterId);
  const rows = await query.execute();
  return { contracts: rows.slice(0, filter.limit), more: rows.length > filter.limit };
}

/** True when the party is part of the contract (the 404 check of the API). */
export async function isContractParty(db: Kysely<Schema>, contractId: string, partyId: string): Promise<boolean> {
  const row = await db
    .selectFrom('contract_parties')
    .select('party_id')
    .where('contract_id', '=', contractId)
    .where('party_id', '=', partyId)
    .executeTakeFirst();
  return row !== undefined;
}

async function addParties(db: Kysely<Schema>, contractId: string, partyIds: string[]): Promise<void> {
  const unique = [...new Set(partyIds)];
  if (unique.length === 0) return;
  await db
    .insertInto('contract_parties')
    .values(unique.map((party_id) => ({ contract_id: contractId, party_id })))
    .onConflict((oc) => oc.doNothing())
    .execute();
}
