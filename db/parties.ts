// Parties and their principals (users, agents). Upserts: the contract document is the source.
import type { Kysely } from 'kysely';
import { pageOf } from './pages';
import type { AgentRow, PartyKind, PartyRow, Schema, UserRow } from './schema';

export interface PartyInput {
  id: string;
  kind: PartyKind;
  name: string;
  timezone: string;
  contractedBy?: string | null;
}

export async function upsertParty(db: Kysely<Schema>, party: PartyInput): Promise<PartyRow> {
  return db
    .insertInto('parties')
    .values({
      id: party.id,
      kind: party.kind,
      name: party.name,
      timezone: party.timezone,
      contracted_by: party.contractedBy ?? null,
    })
    .onConflict((oc) =>
      oc.column('id').doUpdateSet((eb) => ({
        kind: eb.ref('excluded.kind'),
        name: eb.ref('excluded.name'),
        timezone: eb.ref('excluded.timezone'),
        contracted_by: eb.ref('excluded.contracted_by'),
      })),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
}

export interface UserInput {
  id: string;
  partyId: string;
  name?: string | null;
  roles: string[];
  team?: string | null;
}

/** A user never moves to another party: an upsert for another party's user id fails. */
export async function upsertUser(db: Kysely<Schema>, user: UserInput): Promise<UserRow> {
  const row = await db
    .insertInto('users')
    .values({ id: user.id, party_id: user.partyId, name: user.name ?? null, roles: user.roles, team: user.team ?? null })
    .onConflict((oc) =>
      oc
        .column('id')
        .doUpdateSet((eb) => ({ name: eb.ref('excluded.name'), roles: eb.ref('excluded.roles'), team: eb.ref('excluded.team') }))
        .where('users.party_id', '=', user.partyId),
    )
    .returningAll()
    .executeTakeFirst();
  if (!row) throw new Error(`user ${user.id} belongs to another party`);
  return row;
}

export interface AgentInput {
  id: string;
  partyId: string;
  site?: string | null;
}

/** An agent never moves to another party: an upsert for another party's agent id fails. */
export async function upsertAgent(db: Kysely<Schema>, agent: AgentInput): Promise<AgentRow> {
  const row = await db
    .insertInto('agents')
    .values({ id: agent.id, party_id: agent.partyId, site: agent.site ?? null })
    .onConflict((oc) =>
      oc
        .column('id')
        .doUpdateSet((eb) => ({ site: eb.ref('excluded.site') }))
        .where('agents.party_id', '=', agent.partyId),
    )
    .returningAll()
    .executeTakeFirst();
  if (!row) throw new Error(`agent ${agent.id} belongs to another party`);
  return row;
}

export function getParty(db: Kysely<Schema>, id: string): Promise<PartyRow | undefined> {
  return db.selectFrom('parties').selectAll().where('id', '=', id).executeTakeFirst();
}

export function getUser(db: Kysely<Schema>, id: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

export function getAgent(db: Kysely<Schema>, id: string): Promise<AgentRow | undefined> {
  return db.selectFrom('agents').selectAll().where('id', '=', id).executeTakeFirst();
}

export interface IdPage {
  limit: number;
  /** The last id of the previous page. */
  afterId?: string;
}

/** A page of parties by id (only `ids` when given); one more row than asked tells a next page exists. */
export async function listPartiesPage(db: Kysely<Schema>, page: IdPage & { ids?: string[] }): Promise<{ parties: PartyRow[]; more: boolean }> {
  if (page.ids?.length === 0) return { parties: [], more: false };
  let query = db.selectFrom('parties').selectAll().orderBy('id').limit(page.limit + 1);
  if (page.ids) query = query.where('id', 'in', page.ids);
  if (page.afterId !== undefined) query = query.where('id', '>', page.afterId);
  const { rows, more } = pageOf(await query.execute(), page.limit);
  return { parties: rows, more };
}

/**
 * Inserts a new party; undefined when the id is taken or, for a provider, when the deployment
 * has one already (unique index `parties_one_provider`): the API's 409 either way.
 */
export function createParty(db: Kysely<Schema>, party: PartyInput): Promise<PartyRow | undefined> {
  return db
    .insertInto('parties')
    .values({ id: party.id, kind: party.kind, name: party.name, timezone: party.timezone, contracted_by: party.contractedBy ?? null })
    .onConflict((oc) => oc.doNothing())
    .returningAll()
    .executeTakeFirst();
}

/** Inserts a new user; undefined when the id is taken, in any party. */
export function createUser(db: Kysely<Schema>, user: UserInput): Promise<UserRow | undefined> {
  return db
    .insertInto('users')
    .values({ id: user.id, party_id: user.partyId, name: user.name ?? null, roles: user.roles, team: user.team ?? null })
    .onConflict((oc) => oc.column('id').doNothing())
    .returningAll()
    .executeTakeFirst();
}

/** Inserts a new agent; undefined when the id is taken, in any party. */
export function createAgent(db: Kysely<Schema>, agent: AgentInput): Promise<AgentRow | undefined> {
  return db
    .insertInto('agents')
    .values({ id: agent.id, party_id: agent.partyId, site: agent.site ?? null })
    .onConflict((oc) => oc.column('id').doNothing())
    .returningAll()
    .executeTakeFirst();
}

/** A page of a party's users by id. */
export async function listUsersPage(db: Kysely<Schema>, partyId: string, page: IdPage): Promise<{ users: UserRow[]; more: boolean }> {
  let query = db.selectFrom('users').selectAll().where('party_id', '=', partyId).orderBy('id').limit(page.limit + 1);
  if (page.afterId !== undefined) query = query.where('id', '>', page.afterId);
  const { rows, more } = pageOf(await query.execute(), page.limit);
  return { users: rows, more };
}

/** A page of a party's agents by id. */
export async function listAgentsPage(db: Kysely<Schema>, partyId: string, page: IdPage): Promise<{ agents: AgentRow[]; more: boolean }> {
  let query = db.selectFrom('agents').selectAll().where('party_id', '=', partyId).orderBy('id').limit(page.limit + 1);
  if (page.afterId !== undefined) query = query.where('id', '>', page.afterId);
  const { rows, more } = pageOf(await query.execute(), page.limit);
  return { agents: rows, more };
}

/** The deployment's provider (DESIGN: one deployment is run by one provider). */
export function findProviderParty(db: Kysely<Schema>): Promise<PartyRow | undefined> {
  return db.selectFrom('parties').selectAll().where('kind', '=', 'provider').orderBy('created_at').orderBy('id').limit(1).executeTakeFirst();
}

/** The parties a party may see: itself and the parties of every contract it is part of. */
export async function visiblePartyIds(db: Kysely<Schema>, partyId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('contract_parties')
    .select('party_id')
    .distinct()
    .where('contract_id', 'in', (eb) => eb.selectFrom('contract_parties').select('contract_id').where('party_id', '=', partyId))
    .execute();
  return [...new Set([partyId, ...rows.map((r) => r.party_id)])];
}

/** A contract document's parties, as far as the system of record keeps them. */
export interface ContractPartiesView {
  parties: readonly {
    id: string;
    kind: PartyKind;
    name: string;
    timezone: string;
    contractedBy?: string;
    users: readonly { id: string; name?: string; roles: string[]; team?: string }[];
    agents: readonly { id: string; site?: string }[];
  }[];
}

/** Upserts a contract's parties with their users and agents; those a third party is contracted by come first (foreign key). */
export async function writeContractParties(db: Kysely<Schema>, contract: ContractPartiesView): Promise<void> {
  const ordered = [...contract.parties].sort((a, b) => Number(a.kind === 'third-party') - Number(b.kind === 'third-party'));
  for (const party of ordered) {
    await upsertParty(db, { id: party.id, kind: party.kind, name: party.name, timezone: party.timezone, contractedBy: party.contractedBy ?? null });
    for (const user of party.users) await upsertUser(db, { id: user.id, partyId: party.id, name: user.name ?? null, roles: user.roles, team: user.team ?? null });
    for (const agent of party.agents) await upsertAgent(db, { id: agent.id, partyId: party.id, site: agent.site ?? null });
  }
}

/**
 * A proposal's parties: only those that do not exist yet are written, with their users and
 * agents. A contract document names parties; it never creates, changes or removes the users,
 * roles or agents of a party that exists (their own admins do: api/services/contracts.ts checks).
 */
export async function writeNewParties(db: Kysely<Schema>, contract: ContractPartiesView): Promise<void> {
  const ordered = [...contract.parties].sort((a, b) => Number(a.kind === 'third-party') - Number(b.kind === 'third-party'));
  for (const party of ordered) {
    const created = await createParty(db, { id: party.id, kind: party.kind, name: party.name, timezone: party.timezone, contractedBy: party.contractedBy ?? null });
    if (!created) continue;
    for (const user of party.users) {
      if (!(await createUser(db, { id: user.id, partyId: party.id, name: user.name ?? null, roles: user.roles, team: user.team ?? null }))) throw new Error(`user ${user.id} belongs to another party`);
    }
    for (const agent of party.agents) {
      if (!(await createAgent(db, { id: agent.id, partyId: party.id, site: agent.site ?? null }))) throw new Error(`agent ${agent.id} belongs to another party`);
    }
  }
}
