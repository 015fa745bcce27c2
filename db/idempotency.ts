// Stored responses of POSTs sent with an Idempotency-Key, per API key: a retry replays them.
import { sql, type Kysely } from 'kysely';
import type { IdempotencyKeyRow, Schema } from './schema';

/** How long a response is replayed; afterwards the key may be used again. */
export const IDEMPOTENCY_RETENTION_HOURS = 24;

/**
 * Reserves (keyId, key) for this request. Call inside the transaction that does the work:
 * a concurrent request with the same key waits on the row until that transaction ends.
 * Returns undefined when reserved, else the row stored by an earlier request.
 */
export async function reserveIdempotencyKey(db: Kysely<Schema>, input: { keyId: string; key: string; requestHash: string }): Promise<IdempotencyKeyRow | undefined> {
  await db
    .deleteFrom('idempotency_keys')
    .where('key_id', '=', input.keyId)
    .where('key', '=', input.key)
    .where('created_at', '<', sql<Date>`now() - make_interval(hours => ${IDEMPOTENCY_RETENTION_HOURS})`)
    .execute();
  const inserted = await db
    .insertInto('idempotency_keys')
    .values({ key_id: input.keyId, key: input.key, request_hash: input.requestHash })
    .onConflict((oc) => oc.columns(['key_id', 'key']).doNothing())
    .returning('key')
    .executeTakeFirst();
  if (inserted) return undefined;
  return db.selectFrom('idempotency_keys').selectAll().where('key_id', '=', input.keyId).where('key', '=', input.key).executeTakeFirstOrThrow();
}

export async function storeIdempotentResponse(db: Kysely<Schema>, input: { keyId: string; key: string; status: number; sealedBody: string }): Promise<void> {
  await db
    .updateTable('idempotency_keys')
    .set({ response_status: input.status, response_body: input.sealedBody })
    .where('key_id', '=', input.keyId)
    .where('key', '=', input.key)
    .execute();
}

/** Drops responses past retention (run now and then; reserve also replaces an expired one). */
export async function purgeIdempotencyKeys(db: Kysely<Schema>): Promise<number> {
  const result = await db
    .deleteFrom('idempotency_keys')
    .where('created_at', '<', sql<Date>`now() - make_interval(hours => ${IDEMPOTENCY_RETENTION_HOURS})`)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Frees a key claimed for a request that was refused (nothing stored): the caller may correct it and retry under the same key. */
export async function releaseIdempotencyKey(db: Kysely<Schema>, input: { keyId: string; key: string; requestHash: string }): Promise<void> {
  await db
    .deleteFrom('idempotency_keys')
    .where('key_id', '=', input.keyId)
    .where('key', '=', input.key)
    .where('request_hash', '=', input.requestHash)
    .where('response_status', 'is', null)
    .execute();
}
