// Contracts and their immutable versions: an amendment is a new version, never an edit.
import { sql, type Kysely } from 'kysely';
import { jsonb } from './json';
import { writeContractParties, type ContractPartiesView } from './parties';
import { inTransaction } from './transaction';
import type { ContractRow, ContractStatus, ContractVersionRow, Schema } from './schema';

export interface CreateContractInput {
  id: string;
  providerId: string;
  clientId: string;
  /** Every party of the contract; the provider and the client are added when missing. */
  partyIds: string[];
  currency: string;
  document: unknown;
  createdBy?: string | null;
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
  roles: { providerId: string; clientId: string; createdBy?: string },
): Promise<{ contract: ContractWithParties; created: boolean }> {
  await writeContractParties(db, document);
  return createContract(db, {
    id: document.id,
    providerId: roles.providerId,
    clientId: roles.clientId,
    partyIds: document.parties.map((p) => p.id),
    currency: document.currency,
    document,
    ...(roles.createdBy !== undefined ? { createdBy: roles.createdBy } : {}),
  });
}

export function getContract(db: Kysely<Schema>, id: string): Promise<ContractWithParties | undefined> {
  return withPartyIds(db).where('c.id', '=', id).executeTakeFirst();
}

export function getContractVersion(db: Kysely<Schema>, id: string, version: number): Promise<ContractVersionRow | undefined> {
  return db
    .selectFrom('contract_versions')
    .selectAll()
    .where('contract_id', '=', id)
    .where('version', '=', version)
    .executeTakeFirst();
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
  await db
    .insertInto('contract_parties')
    .values(unique.map((party_id) => ({ contract_id: contractId, party_id })))
    .onConflict((oc) => oc.doNothing())
    .execute();
}
