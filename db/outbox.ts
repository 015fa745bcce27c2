// Notifications to send, keyed by effect: what a step produces is enqueued once.
import { sql, type Kysely } from 'kysely';
import { jsonb } from './json';
import type { OutboxRow, Schema } from './schema';

export interface OutboxInput {
  /** Unique per effect (e.g. `<processId>:<seq>:<partyId>`): a retried activity enqueues nothing twice. */
  effectKey: string;
  partyId: string;
  event: string;
  payload: unknown;
}

/** Returns how many rows this call enqueued. */
export async function enqueueOutbox(db: Kysely<Schema>, rows: OutboxInput[]): Promise<number> {
  if (rows.length === 0) return 0;
  const inserted = await db
    .insertInto('outbox')
    .values(rows.map((row) => ({ effect_key: row.effectKey, party_id: row.partyId, event: row.event, payload: jsonb(row.payload) })))
    .onConflict((oc) => oc.column('effect_key').doNothing())
    .returning('id')
    .execute();
  return inserted.length;
}

export interface ClaimOutboxInput {
  now: Date;
  limit: number;
  /** How long the claimed rows stay out of other dispatchers' reach; longer than one send. */
  leaseMs?: number;
}

/**
 * Takes due pending rows and pushes their next_attempt_at forward as a lease, so a second
 * dispatcher skips them (SKIP LOCKED while we decide, the lease afterwards).
 */
export function claimDueOutbox(db: Kysely<Schema>, input: ClaimOutboxInput): Promise<OutboxRow[]> {
  const leaseUntil = new Date(input.now.getTime() + (input.leaseMs ?? 60_000));
  return db.transaction().execute(async (trx) => {
    const due = await trx
      .selectFrom('outbox')
      .select('id')
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', input.now)
      .orderBy('next_attempt_at')
      .orderBy('id')
      .limit(input.limit)
      .forUpdate()
      .skipLocked()
      .execute();
    if (due.length === 0) return [];
    const claimed = await trx
      .updateTable('outbox')
      .set({ next_attempt_at: leaseUntil })
      .where(
        'id',
        'in',
        due.map((row) => row.id),
      )
      .returningAll()
      .execute();
    return claimed.sort((a, b) => a.id - b.id);
  });
}

export async function markOutboxSent(db: Kysely<Schema>, id: number, at: Date = new Date()): Promise<void> {
  await db
    .updateTable('outbox')
    .set((eb) => ({ status: 'sent', sent_at: at, attempts: eb('attempts', '+', 1), last_error: null }))
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .execute();
}

export async function markOutboxFailed(db: Kysely<Schema>, id: number, input: { error: string; nextAttemptAt: Date }): Promise<void> {
  await db
    .updateTable('outbox')
    .set((eb) => ({ attempts: eb('attempts', '+', 1), last_error: input.error, next_attempt_at: input.nextAttemptAt }))
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .execute();
}

/** Stops retrying a row that keeps failing; an operator may requeue it. */
export async function parkOutbox(db: Kysely<Schema>, id: number, input: { error: string }): Promise<void> {
  await db
    .updateTable('outbox')
    .set((eb) => ({ status: 'parked', attempts: eb('attempts', '+', 1), last_error: input.error }))
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .execute();
}

/** The party has no webhook configured: not a failure, nothing to retry. */
export async function markNoEndpoint(db: Kysely<Schema>, id: number): Promise<void> {
  await db.updateTable('outbox').set({ status: 'no-endpoint' }).where('id', '=', id).where('status', '=', 'pending').execute();
}

/** Puts parked (or no-endpoint) rows back in the queue, e.g. after a party fixed its endpoint. */
export async function requeueOutbox(db: Kysely<Schema>, ids: number[], now: Date = new Date()): Promise<number> {
  if (ids.length === 0) return 0;
  const result = await db
    .updateTable('outbox')
    .set({ status: 'pending', attempts: 0, next_attempt_at: now, last_error: null })
    .where('id', 'in', ids)
    .where('status', 'in', ['parked', 'no-endpoint'])
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

export function getOutboxEntry(db: Kysely<Schema>, effectKey: string): Promise<OutboxRow | undefined> {
  return db.selectFrom('outbox').selectAll().where('effect_key', '=', effectKey).executeTakeFirst();
}

export function countOutboxByStatus(db: Kysely<Schema>) {
  return db
    .selectFrom('outbox')
    .select(['status', sql<number>`count(*)::int`.as('count')])
    .groupBy('status')
    .execute();
}
