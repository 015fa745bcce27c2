// API keys: random, shown once, stored as a SHA-256 of the whole key.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { createdAfter, createdKey, pageOf, type CreatedPage } from './pages';
import type { PartyKind, Schema } from './schema';

export type Role = 'admin' | 'operator' | 'approver' | 'viewer' | 'agent';

export type ApiKeyHolder = { userId: string; agentId?: undefined } | { agentId: string; userId?: undefined };

export type IssueApiKeyInput = { partyId: string; roles: string[] } & ApiKeyHolder;

export interface Principal {
  keyId: string;
  partyId: string;
  partyKind: PartyKind;
  userId?: string;
  agentId?: string;
  roles: string[];
  /** The deployment's MANDATE_ADMIN_KEY (not a stored key): admin of the provider. */
  bootstrap?: true;
}

const KEY_PATTERN = /^mk_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{43,})$/;

export function hashApiKey(clearKey: string): string {
  return createHash('sha256').update(clearKey, 'utf8').digest('hex');
}

/** Returns the clear key once; only its hash and its visible prefix are stored. */
export async function issueApiKey(db: Kysely<Schema>, input: IssueApiKeyInput): Promise<{ id: string; key: string; prefix: string }> {
  const id = randomUUID();
  // Hex, not base64url, so the prefix never contains the `_` that separates the parts.
  const prefix = randomBytes(6).toString('hex');
  const key = `mk_${prefix}_${randomBytes(32).toString('base64url')}`;
  await db
    .insertInto('api_keys')
    .values({
      id,
      prefix,
      secret_hash: hashApiKey(key),
      party_id: input.partyId,
      user_id: input.userId ?? null,
      agent_id: input.agentId ?? null,
      roles: input.roles,
    })
    .execute();
  return { id, key, prefix };
}

const TOUCH_EVERY_MS = 60_000;
/** Key id → when this process last recorded its use. */
const lastTouched = new Map<string, number>();

/** The principal behind a clear key, or undefined for an unknown, malformed or revoked key. */
export async function findPrincipalByKey(db: Kysely<Schema>, clearKey: string): Promise<Principal | undefined> {
  if (!isWellFormedKey(clearKey)) return undefined;
  const principal = await findPrincipalByHash(db, hashApiKey(clearKey));
  if (principal) await recordKeyUse(db, principal.keyId);
  return principal;
}

export function isWellFormedKey(clearKey: string): boolean {
  return KEY_PATTERN.test(clearKey);
}

/**
 * The principal of a live key by the SHA-256 of the clear key. A user's key is worth the roles
 * it was issued with that the user still holds (docs/ARCHITECTURE.md "Trust boundaries"): a
 * demoted user's key shrinks with him, and a key left with no role authenticates no one.
 */
export async function findPrincipalByHash(db: Kysely<Schema>, secretHash: string): Promise<Principal | undefined> {
  const row = await db
    .selectFrom('api_keys as k')
    .innerJoin('parties as p', 'p.id', 'k.party_id')
    .leftJoin('users as u', (join) => join.onRef('u.id', '=', 'k.user_id').onRef('u.party_id', '=', 'k.party_id'))
    .select(['k.id', 'k.party_id', 'p.kind', 'k.user_id', 'k.agent_id', 'k.roles', 'u.roles as holder_roles'])
    .where('k.secret_hash', '=', secretHash)
    .where('k.revoked_at', 'is', null)
    .executeTakeFirst();
  if (!row) return undefined;
  const roles = effectiveRoles(row.roles, row.user_id ? (row.holder_roles ?? []) : undefined);
  if (roles.length === 0) return undefined;
  return {
    keyId: row.id,
    partyId: row.party_id,
    partyKind: row.kind,
    ...(row.user_id ? { userId: row.user_id } : {}),
    ...(row.agent_id ? { agentId: row.agent_id } : {}),
    roles,
  };
}

/** The roles a key acts with: those it was issued with that its user holds now (an agent's key: its own). */
export function effectiveRoles(keyRoles: readonly string[], holderRoles: readonly string[] | undefined): string[] {
  return holderRoles === undefined ? [...keyRoles] : keyRoles.filter((r) => holderRoles.includes(r));
}

/** Records that a key was used: at most one write a minute per key (no round trip otherwise), so authentication stays a read. */
export async function recordKeyUse(db: Kysely<Schema>, keyId: string): Promise<void> {
  const now = Date.now();
  if ((lastTouched.get(keyId) ?? 0) >= now - TOUCH_EVERY_MS) return;
  lastTouched.set(keyId, now);
  if (lastTouched.size > 10_000) lastTouched.clear();
  await db
    .updateTable('api_keys')
    .set({ last_used_at: sql<Date>`now()` })
    .where('id', '=', keyId)
    .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', sql<Date>`now() - interval '1 minute'`)]))
    .execute();
}

/** Revokes a key (of that party, when given). True when this call revoked it. */
export async function revokeApiKey(db: Kysely<Schema>, id: string, options: { partyId?: string } = {}): Promise<boolean> {
  let query = db.updateTable('api_keys').set({ revoked_at: sql<Date>`now()` }).where('id', '=', id).where('revoked_at', 'is', null);
  if (options.partyId) query = query.where('party_id', '=', options.partyId);
  const result = await query.executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** A page of a party's keys, oldest first; one more row than asked tells a next page exists. */
export async function listApiKeysPage(db: Kysely<Schema>, partyId: string, page: CreatedPage) {
  let query = db
    .selectFrom('api_keys')
    .select(['id', 'prefix', 'party_id', 'user_id', 'agent_id', 'roles', 'created_at', 'last_used_at', 'revoked_at'])
    .select(createdKey.as('created_key'))
    .where('party_id', '=', partyId)
    .orderBy('created_at')
    .orderBy('id')
    .limit(page.limit + 1);
  if (page.after) query = query.where(createdAfter(page.after));
  const { rows, more } = pageOf(await query.execute(), page.limit);
  return { keys: rows, more };
}

export function getApiKey(db: Kysely<Schema>, partyId: string, id: string) {
  return db
    .selectFrom('api_keys')
    .select(['id', 'prefix', 'party_id', 'user_id', 'agent_id', 'roles', 'created_at', 'last_used_at', 'revoked_at'])
    .where('id', '=', id)
    .where('party_id', '=', partyId)
    .executeTakeFirst();
}
