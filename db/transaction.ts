import type { Kysely, Transaction } from 'kysely';
import type { Schema } from './schema';

/** Runs `fn` in a transaction, joining the caller's when there is one (kysely cannot nest). */
export function inTransaction<T>(db: Kysely<Schema>, fn: (trx: Transaction<Schema>) => Promise<T>): Promise<T> {
  return db.isTransaction ? fn(db as Transaction<Schema>) : db.transaction().execute(fn);
}
