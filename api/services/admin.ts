// Who administers what (docs/ARCHITECTURE.md "Trust boundaries"): each party's own admins
// administer its users, agents, keys and webhooks. The provider's admins (and the bootstrap
// MANDATE_ADMIN_KEY) create parties and invite a party's first admin, once; after that they
// administer nothing of another party. A party the caller cannot see is 404, one it can see
// but not administer is 403.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { getApiKey, issueApiKey, type listApiKeysPage, type Principal } from '../../db/api-keys';
import { createAgent, createParty, createUser, findProviderParty, getAgent, getParty, getUser, listPartiesPage, visiblePartyIds, type IdPage } from '../../db/parties';
import type { AgentRow, PartyRow, Schema, UserRow, WebhookSubscriptionRow } from '../../db/schema';
import type { SecretBox } from '../../db/secret-box';
import { createWebhookSubscription } from '../../db/webhooks';
import { isProviderAdmin, mayAdministerParty, mayCreateParty, mayInviteFirstAdmin, mayIssueKey } from '../../domain/authorization';
import { badRequest, conflict, notFound, unprocessable } from '../errors';
import { authorize } from './authorize';
import type { ChangeUser, CreateAgent, CreateParty, CreateUser, CreateWebhook, InviteFirstAdmin, IssueApiKey } from '../schemas/admin';
import { inTransaction } from '../../db/transaction';
import { sql } from 'kysely';
import { decodeCursor } from '../views';

const iso = (d: Date | string | null | undefined) => (d == null ? null : new Date(d).toISOString());

/** A page of the parties the caller sees: all of them for the provider's admins, else its own and its contracts' parties. */
export async function visiblePartiesPage(db: Kysely<Schema>, principal: Principal, page: IdPage): Promise<{ parties: PartyRow[]; more: boolean }> {
  if (isProviderAdmin(principal)) return listPartiesPage(db, page);
  return listPartiesPage(db, { ...page, ids: await visiblePartyIds(db, principal.partyId) });
}

// The creation instant of a (created_at, id) cursor, exactly as db/pages.ts `createdKey` writes it.
const CREATED_KEY = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3})\d{3}Z$/;

/** The (created_at, id) key of a cursor; one PostgreSQL would refuse is a 400 like any malformed cursor. */
export function decodeCreatedCursor(after: string): { createdAt: string; id: string } {
  const [createdAt = '', id = ''] = decodeCursor(after, 2);
  const millis = CREATED_KEY.exec(createdAt)?.[1];
  const date = millis === undefined ? undefined : new Date(`${millis}Z`);
  // A real calendar instant (no 30 February), in PostgreSQL's years (no year 0).
  if (!date || Number.isNaN(date.getTime()) || date.toISOString() !== `${millis}Z` || date.getUTCFullYear() < 1) {
    throw badRequest('the cursor is invalid', [{ path: 'query.after', message: 'expected the `next` value of a previous page' }]);
  }
  return { createdAt, id };
}

export async function visibleParty(db: Kysely<Schema>, principal: Principal, partyId: string): Promise<PartyRow> {
  const party = await getParty(db, partyId);
  if (!party || !(isProviderAdmin(principal) || (await visiblePartyIds(db, principal.partyId)).includes(partyId))) throw notFound(`party ${partyId}`);
  return party;
}

/** The party, when the caller administers it: 404 when invisible, 403 when visible only. */
export async function administeredParty(db: Kysely<Schema>, principal: Principal, partyId: string): Promise<PartyRow> {
  const party = await visibleParty(db, principal, partyId);
  authorize(mayAdministerParty({ actor: principal, partyId }));
  return party;
}

const fieldProblem = (slug: string, title: string, path: string, message: string) => unprocessable(slug, title, message, { errors: [{ path, message }] });

export async function addParty(db: Kysely<Schema>, principal: Principal, input: CreateParty): Promise<PartyRow> {
  authorize(mayCreateParty(principal));
  const oneProvider = async () => {
    const provider = input.kind === 'provider' ? await findProviderParty(db) : undefined;
    if (provider) throw conflict(`this deployment is run by provider ${provider.id}: there is one provider per deployment`);
  };
  await oneProvider();
  if (input.contractedBy !== undefined) {
    const holder = await getParty(db, input.contractedBy);
    if (!holder || holder.kind === 'third-party') throw fieldProblem('unknown-party', 'Unknown party', 'body.contractedBy', `${input.contractedBy} is not a provider or client of this deployment`);
  }
  const party = await createParty(db, input);
  if (party) return party;
  // Refused by a unique key: the id, or a provider created by a concurrent request.
  if (await getParty(db, input.id)) throw conflict(`party ${input.id} exists`);
  await oneProvider();
  throw conflict(`party ${input.id} could not be created`);
}

export async function addUser(db: Kysely<Schema>, partyId: string, input: CreateUser): Promise<UserRow> {
  const user = await createUser(db, { id: input.id, partyId, name: input.name, roles: input.roles, team: input.team });
  if (!user) throw conflict(`user ${input.id} exists`);
  return user;
}

/**
 * The provider's one act in another party's administration: its first admin, with a key the
 * provider hands over (the admin then issues its own keys and revokes this one). Refused once
 * the party has an admin; a party always keeps one (changeUser), so this never reopens.
 */
export async function inviteFirstAdmin(db: Kysely<Schema>, principal: Principal, partyId: string, input: InviteFirstAdmin) {
  await visibleParty(db, principal, partyId);
  return inTransaction(db, async (trx) => {
    // Serializes invitations to one party: two concurrent ones cannot both see "no admin".
    await sql`SELECT id FROM parties WHERE id = ${partyId} FOR UPDATE`.execute(trx);
    const hasAdmin = (await countAdmins(trx, partyId)) > 0;
    const invitable = mayInviteFirstAdmin({ actor: principal, party: { id: partyId, hasAdmin } });
    if (!invitable.ok) {
      if (hasAdmin && isProviderAdmin(principal)) throw conflict(invitable.reason);
      authorize(invitable);
    }
    const user = await createUser(trx, { id: input.id, partyId, name: input.name, roles: ['admin'], team: input.team });
    if (!user) throw conflict(`user ${input.id} exists`);
    const issued = await issueApiKey(trx, { partyId, userId: user.id, roles: ['admin'] });
    const row = await getApiKey(trx, partyId, issued.id);
    return { user: userView(user), key: { ...apiKeyView(row!), key: issued.key } };
  });
}

async function countAdmins(db: Kysely<Schema>, partyId: string): Promise<number> {
  const row = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('party_id', '=', partyId)
    .where(sql<boolean>`'admin' = ANY(roles)`)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * Changes a user's name, team or roles (its own party's admins). Its keys keep their roles but
 * act with those the user still holds (db/api-keys.ts), from the next request on. The last admin
 * of a party keeps the role: a party without one could only be given one by the provider.
 */
export async function changeUser(db: Kysely<Schema>, partyId: string, userId: string, input: ChangeUser): Promise<UserRow> {
  return inTransaction(db, async (trx) => {
    await sql`SELECT id FROM parties WHERE id = ${partyId} FOR UPDATE`.execute(trx);
    const user = await getUser(trx, userId);
    if (!user || user.party_id !== partyId) throw notFound(`user ${userId}`);
    if (input.roles && user.roles.includes('admin') && !input.roles.includes('admin') && (await countAdmins(trx, partyId)) <= 1) {
      throw conflict(`user ${userId} is the last admin of party ${partyId}: make another user admin first`);
    }
    const row = await trx
      .updateTable('users')
      .set({
        ...(input.roles !== undefined ? { roles: input.roles } : {}),
        ...(input.name !== undefined ? { name: input.name } : {}),
        ...(input.team !== undefined ? { team: input.team } : {}),
      })
      .where('id', '=', userId)
      .where('party_id', '=', partyId)
      .returningAll()
      .executeTakeFirstOrThrow();
    return row;
  });
}

export async function addAgent(db: Kysely<Schema>, partyId: string, input: CreateAgent): Promise<AgentRow> {
  const agent = await createAgent(db, { id: input.id, partyId, site: input.site });
  if (!agent) throw conflict(`agent ${input.id} exists`);
  return agent;
}

/** Issues a key to a user or an agent of the party; its roles are a subset of the holder's. */
export async function addApiKey(db: Kysely<Schema>, partyId: string, input: IssueApiKey) {
  if (input.userId !== undefined) {
    const user = await getUser(db, input.userId);
    if (!user || user.party_id !== partyId) throw fieldProblem('unknown-holder', 'Unknown key holder', 'body.userId', `${input.userId} is not a user of party ${partyId}`);
    const held = mayIssueKey({ roles: input.roles, holder: { userId: user.id, roles: user.roles } });
    if (!held.ok) throw fieldProblem('roles-not-held', 'Roles not held', 'body.roles', held.reason);
  } else {
    const agent = input.agentId === undefined ? undefined : await getAgent(db, input.agentId);
    if (!agent || agent.party_id !== partyId) throw fieldProblem('unknown-holder', 'Unknown key holder', 'body.agentId', `${input.agentId} is not an agent of party ${partyId}`);
    const held = mayIssueKey({ roles: input.roles, holder: { agentId: agent.id } });
    if (!held.ok) throw fieldProblem('roles-not-held', 'Roles not held', 'body.roles', held.reason);
  }
  const holder = input.userId !== undefined ? { userId: input.userId } : { agentId: input.agentId! };
  const issued = await issueApiKey(db, { partyId, roles: input.roles, ...holder });
  const row = await getApiKey(db, partyId, issued.id);
  return { ...apiKeyView(row!), key: issued.key };
}

/** A subscription with a new secret; only the sealed secret is stored. */
export async function addWebhook(db: Kysely<Schema>, secretBox: SecretBox, partyId: string, input: CreateWebhook) {
  const id = randomUUID();
  const secret = `whsec_${randomBytes(32).toString('base64url')}`;
  const row = await createWebhookSubscription(db, { id, partyId, url: input.url, events: input.events, sealedSecret: secretBox.seal(secret, `webhook:${id}`) });
  return { ...webhookView(row), secret };
}

export function partyView(p: PartyRow) {
  return { id: p.id, kind: p.kind, name: p.name, timezone: p.timezone, contractedBy: p.contracted_by, createdAt: iso(p.created_at)! };
}

export function userView(u: UserRow) {
  return { id: u.id, partyId: u.party_id, name: u.name, roles: u.roles, team: u.team, createdAt: iso(u.created_at)! };
}

export function agentView(a: AgentRow) {
  return { id: a.id, partyId: a.party_id, site: a.site, roles: ['agent' as const], createdAt: iso(a.created_at)! };
}

type ApiKeyListRow = Omit<Awaited<ReturnType<typeof listApiKeysPage>>['keys'][number], 'created_key'>;

/** Never the hash: the prefix is how a holder recognises its key. */
export function apiKeyView(k: ApiKeyListRow) {
  return { id: k.id, prefix: k.prefix, partyId: k.party_id, userId: k.user_id, agentId: k.agent_id, roles: k.roles, createdAt: iso(k.created_at)!, lastUsedAt: iso(k.last_used_at), revokedAt: iso(k.revoked_at) };
}

/** Never the secret, sealed or not. */
export function webhookView(w: WebhookSubscriptionRow) {
  return { id: w.id, partyId: w.party_id, url: w.url, events: w.events, createdAt: iso(w.created_at)!, disabledAt: iso(w.disabled_at) };
}
