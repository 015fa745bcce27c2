// Runbooks operators register: immutable versions per key (a change is a new version; a
// run keeps the version it started with, carried in its start).
import { sql, type Kysely } from 'kysely';

const statements = [
  sql`CREATE TABLE runbooks (
    key text NOT NULL,
    version integer NOT NULL CHECK (version >= 1),
    title text NOT NULL,
    service text NOT NULL,
    definition jsonb NOT NULL,
    created_by text,
    created_by_party text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (key, version)
  )`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of statements) await statement.execute(db);
}
