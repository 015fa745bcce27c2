// Ed25519 public keys a party's own admins register for its users (docs/ARCHITECTURE.md
// "Trust boundaries"): a client's approvals are verified against them in the workflow, so the
// provider, which runs the API, cannot sign for the client. A key is revoked, never deleted:
// the journal's signatures stay checkable and the party's requirement to sign stays on.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE TABLE signing_keys (
    id text PRIMARY KEY,
    party_id text NOT NULL REFERENCES parties(id),
    user_id text NOT NULL REFERENCES users(id),
    public_key text NOT NULL UNIQUE CHECK (public_key ~ '^[0-9a-f]{64}$'),
    label text,
    registered_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    revoked_by text
  )`.execute(db);
  await sql`CREATE INDEX signing_keys_party ON signing_keys (party_id)`.execute(db);
}
