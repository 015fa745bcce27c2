// One provider per deployment (docs/ARCHITECTURE.md "Trust boundaries"): the API checked it before
// inserting, which two concurrent requests could both pass. The database now says it too.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  const { rows } = await sql<{ id: string }>`SELECT id FROM parties WHERE kind = 'provider' ORDER BY id`.execute(db);
  if (rows.length > 1) {
    throw new Error(
      `this database holds ${rows.length} provider parties (${rows.map((r) => r.id).join(', ')}): a deployment has one provider. ` +
        'Change the kind of all but one of them (they are a client or a third party of its contracts), then start again.',
    );
  }
  await sql`CREATE UNIQUE INDEX parties_one_provider ON parties (kind) WHERE kind = 'provider'`.execute(db);
}
