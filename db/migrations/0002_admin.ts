// Administration: webhook subscriptions per party, idempotency of POSTs, and per-endpoint
// delivery of the outbox. Forward-only, like every migration.
import { sql, type Kysely } from 'kysely';

const statements = [
  // Which endpoints already got a row: a retry goes only to the ones that failed.
  sql`ALTER TABLE outbox ADD COLUMN delivered_to text[] NOT NULL DEFAULT '{}'`,
  sql`CREATE TABLE webhook_subscriptions (
    id text PRIMARY KEY,
    party_id text NOT NULL REFERENCES parties (id),
    url text NOT NULL,
    -- Sealed (AES-256-GCM, db/secret-box.ts): the dispatcher needs it in clear to sign.
    secret text NOT NULL,
    events text[] NOT NULL CHECK (cardinality(events) > 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    disabled_at timestamptz
  )`,
  sql`CREATE INDEX webhook_subscriptions_active_idx ON webhook_subscriptions (party_id) WHERE disabled_at IS NULL`,
  // The response of a POST, replayed for a retry with the same key (body sealed: it may hold a key).
  sql`CREATE TABLE idempotency_keys (
    key_id text NOT NULL,
    key text NOT NULL,
    request_hash char(64) NOT NULL,
    response_status integer,
    response_body text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (key_id, key)
  )`,
  sql`CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at)`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of statements) await statement.execute(db);
}
