// A signed monitoring alert is accepted once (issue 12 point 10): its nonce — the alert's id,
// or the digest of what was signed — is remembered for the signature's window, in PostgreSQL
// so that every API node refuses the replay. Forward-only, like every migration.
import { sql, type Kysely } from 'kysely';

const statements = [
  sql`CREATE TABLE monitoring_alert_nonces (
    contract_id text NOT NULL,
    nonce text NOT NULL,
    expires_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    -- The incident the first delivery reached: a replay is journaled there.
    process_id text,
    PRIMARY KEY (contract_id, nonce)
  )`,
  // Expired nonces are pruned as new ones come.
  sql`CREATE INDEX monitoring_alert_nonces_expiry_idx ON monitoring_alert_nonces (expires_at)`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of statements) await statement.execute(db);
}
