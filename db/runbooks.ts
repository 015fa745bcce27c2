// Registered runbooks: immutable versions per key. Registering the same document as the
// latest version again adds nothing, so a retried registration is harmless.
import { isDeepStrictEqual } from 'node:util';
import { sql, type Kysely } from 'kysely';
import type { Runbook } from '../domain/runbook';
import { jsonb } from './json';
import { pageOf } from './pages';
import type { RunbookRow, Schema } from './schema';
import { inTransaction } from './transaction';

export interface RegisterRunbookInput {
  runbook: Runbook;
  createdBy: string | null;
  createdByParty: string;
}

/** Adds the next version of the runbook's key, unless the latest version is this very document. */
export async function registerRunbook(db: Kysely<Schema>, input: RegisterRunbookInput): Promise<{ runbook: RunbookRow; created: boolean }> {
  const { runbook } = input;
  return inTransaction(db, async (trx) => {
    // Serialises registrations of one key, so versions follow each other without gaps or clashes.
    await sql`select pg_advisory_xact_lock(hashtext(${`runbook:${runbook.key}`}))`.execute(trx);
    const latest = await trx.selectFrom('runbooks').selectAll().where('key', '=', runbook.key).orderBy('version', 'desc').limit(1).executeTakeFirst();
    if (latest && isDeepStrictEqual(latest.definition, JSON.parse(JSON.stringify(runbook)))) return { runbook: latest, created: false };
    const row = await trx
      .insertInto('runbooks')
      .values({
        key: runbook.key,
        version: (latest?.version ?? 0) + 1,
        title: runbook.title,
        service: runbook.service,
        definition: jsonb(runbook),
        created_by: input.createdBy,
        created_by_party: input.createdByParty,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return { runbook: row, created: true };
  });
}

/** One version, or the latest when `version` is omitted. */
export function getRunbook(db: Kysely<Schema>, key: string, version?: number): Promise<RunbookRow | undefined> {
  let q = db.selectFrom('runbooks').selectAll().where('key', '=', key);
  q = version === undefined ? q.orderBy('version', 'desc').limit(1) : q.where('version', '=', version);
  return q.executeTakeFirst();
}

/** A page of the latest version of every key, by key; one more row than asked tells a next page exists. */
export async function listLatestRunbooksPage(db: Kysely<Schema>, page: { limit: number; afterKey?: string }): Promise<{ runbooks: RunbookRow[]; more: boolean }> {
  let query = db
    .selectFrom('runbooks as r')
    .selectAll('r')
    .where('r.version', '=', (eb) => eb.selectFrom('runbooks as v').select((v) => v.fn.max('v.version').as('max')).whereRef('v.key', '=', 'r.key'))
    .orderBy('r.key')
    .limit(page.limit + 1);
  if (page.afterKey !== undefined) query = query.where('r.key', '>', page.afterKey);
  const { rows, more } = pageOf(await query.execute(), page.limit);
  return { runbooks: rows, more };
}

/** Every version number of a key, oldest first. */
export async function runbookVersions(db: Kysely<Schema>, key: string): Promise<number[]> {
  const rows = await db.selectFrom('runbooks').select('version').where('key', '=', key).orderBy('version').execute();
  return rows.map((r) => r.version);
}
