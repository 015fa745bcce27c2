// Public keys a party's admins registered for its users (db/migrations/0012_signing_keys.ts),
// and the witness of a process's journal: the head of its hash chain.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { PartySigningKey } from '../domain/signatures';
import type { Schema, SigningKeyRow } from './schema';

export async function registerSigningKey(
  db: Kysely<Schema>,
  input: { partyId: string; userId: string; publicKey: string; label?: string; registeredBy: string },
): Promise<SigningKeyRow> {
  return db
    .insertInto('signing_keys')
    .values({
      id: `sk_${randomUUID()}`,
      party_id: input.partyId,
      user_id: input.userId,
      public_key: input.publicKey.toLowerCase(),
      label: input.label ?? null,
      registered_by: input.registeredBy,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function getSigningKeyByPublicKey(db: Kysely<Schema>, publicKey: string): Promise<SigningKeyRow | undefined> {
  return db.selectFrom('signing_keys').selectAll().where('public_key', '=', publicKey.toLowerCase()).executeTakeFirst();
}

export function listSigningKeys(db: Kysely<Schema>, partyId: string): Promise<SigningKeyRow[]> {
  return db.selectFrom('signing_keys').selectAll().where('party_id', '=', partyId).orderBy('created_at').orderBy('id').execute();
}

/** Revokes a key of the party (once); undefined when it is not the party's or already revoked. */
export function revokeSigningKey(db: Kysely<Schema>, input: { partyId: string; keyId: string; revokedBy: string }): Promise<SigningKeyRow | undefined> {
  return db
    .updateTable('signing_keys')
    .set({ revoked_at: new Date(), revoked_by: input.revokedBy })
    .where('id', '=', input.keyId)
    .where('party_id', '=', input.partyId)
    .where('revoked_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
}

/** The keys of these parties as a workflow checks signatures with them. */
export async function signingKeysOf(db: Kysely<Schema>, partyIds: string[]): Promise<Record<string, PartySigningKey[]>> {
  if (partyIds.length === 0) return {};
  const rows = await db.selectFrom('signing_keys').selectAll().where('party_id', 'in', partyIds).orderBy('created_at').orderBy('id').execute();
  const byParty: Record<string, PartySigningKey[]> = {};
  for (const row of rows) {
    (byParty[row.party_id] ??= []).push({ id: row.id, userId: row.user_id, publicKey: row.public_key, revoked: row.revoked_at !== null });
  }
  return byParty;
}

export interface JournalHead {
  processId: string;
  seq: number;
  hash: string;
  at: string;
}

/** The last entry of a process's journal chain: what a party keeps as its witness. */
export async function journalHead(db: Kysely<Schema>, processId: string): Promise<JournalHead | undefined> {
  const row = await db.selectFrom('journal').select(['seq', 'hash', 'at']).where('process_id', '=', processId).orderBy('seq', 'desc').limit(1).executeTakeFirst();
  return row && { processId, seq: row.seq, hash: row.hash, at: new Date(row.at).toISOString() };
}

/**
 * The parties that hold a role in a process: whoever asked for it, the provider, and every
 * party its journal names (a step's responsible party, an approver's, a consulted one's).
 */
export async function partiesOfProcess(db: Kysely<Schema>, processId: string): Promise<string[]> {
  const process = await db.selectFrom('processes').select(['requested_by_party', 'contract_id']).where('id', '=', processId).executeTakeFirst();
  if (!process) return [];
  const journaled = await db.selectFrom('journal').select('party_id').distinct().where('process_id', '=', processId).where('party_id', 'is not', null).execute();
  const provider = await db
    .selectFrom('contract_parties')
    .innerJoin('parties', 'parties.id', 'contract_parties.party_id')
    .select('parties.id')
    .where('contract_parties.contract_id', '=', process.contract_id)
    .where('parties.kind', '=', 'provider')
    .execute();
  const known = new Set((await db.selectFrom('contract_parties').select('party_id').where('contract_id', '=', process.contract_id).execute()).map((r) => r.party_id));
  const all = [process.requested_by_party, ...provider.map((p) => p.id), ...journaled.map((j) => j.party_id ?? '')];
  // A journal entry may name a party outside the contract (never expected): it is not told.
  return [...new Set(all)].filter((p) => p !== '' && known.has(p)).sort();
}
