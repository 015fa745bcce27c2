// Nonces of signed monitoring alerts (docs/ARCHITECTURE.md "Trust boundaries"): the first
// delivery of a signed alert claims its nonce; a replay within the window finds it taken.
import { sql, type Kysely } from 'kysely';
import type { Schema } from './schema';

export type NonceClaim = { fresh: true } | { fresh: false; receivedAt: Date; processId: string | null };

/**
 * Claims `nonce` for the contract until `expiresAt`. An expired claim of the same nonce is
 * taken over (the signature's window has passed, so the signature itself refuses it anyway).
 */
export async function claimAlertNonce(db: Kysely<Schema>, input: { contractId: string; nonce: string; expiresAt: Date }): Promise<NonceClaim> {
  const claimed = await db
    .insertInto('monitoring_alert_nonces')
    .values({ contract_id: input.contractId, nonce: input.nonce, expires_at: input.expiresAt })
    .onConflict((oc) =>
      oc
        .columns(['contract_id', 'nonce'])
        .doUpdateSet({ expires_at: input.expiresAt, received_at: sql<Date>`now()`, process_id: null })
        .where('monitoring_alert_nonces.expires_at', '<=', sql<Date>`now()`),
    )
    .returning('nonce')
    .executeTakeFirst();
  if (claimed) return { fresh: true };
  const first = await db.selectFrom('monitoring_alert_nonces').select(['received_at', 'process_id']).where('contract_id', '=', input.contractId).where('nonce', '=', input.nonce).executeTakeFirst();
  return { fresh: false, receivedAt: first ? new Date(first.received_at as unknown as string) : new Date(), processId: first?.process_id ?? null };
}

/** The incident the first delivery reached. */
export async function recordAlertNonceProcess(db: Kysely<Schema>, input: { contractId: string; nonce: string; processId: string }): Promise<void> {
  await db.updateTable('monitoring_alert_nonces').set({ process_id: input.processId }).where('contract_id', '=', input.contractId).where('nonce', '=', input.nonce).execute();
}

/** The first delivery failed before reaching an incident: the sender may send the same alert again. */
export async function releaseAlertNonce(db: Kysely<Schema>, input: { contractId: string; nonce: string }): Promise<void> {
  await db.deleteFrom('monitoring_alert_nonces').where('contract_id', '=', input.contractId).where('nonce', '=', input.nonce).where('process_id', 'is', null).execute();
}

/** Drops nonces whose window has passed (a few at a time, as alerts come). */
export async function pruneAlertNonces(db: Kysely<Schema>, limit = 500): Promise<number> {
  const result = await sql`DELETE FROM monitoring_alert_nonces WHERE ctid IN (SELECT ctid FROM monitoring_alert_nonces WHERE expires_at < now() LIMIT ${limit})`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}
