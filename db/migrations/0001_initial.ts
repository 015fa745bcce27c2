// The initial schema. Forward-only: a change is a new migration, never an edit here.
import { sql, type Kysely } from 'kysely';

// One statement per query: PGlite's extended protocol runs a single statement at a time.
const statements = [
  sql`CREATE TABLE parties (
    id text PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('provider', 'client', 'third-party')),
    name text NOT NULL,
    timezone text NOT NULL,
    contracted_by text REFERENCES parties (id),
    created_at timestamptz NOT NULL DEFAULT now()
  )`,
  sql`CREATE TABLE users (
    id text PRIMARY KEY,
    party_id text NOT NULL REFERENCES parties (id),
    name text,
    roles text[] NOT NULL DEFAULT '{}',
    team text,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (id, party_id)
  )`,
  sql`CREATE INDEX users_party_idx ON users (party_id)`,
  sql`CREATE TABLE agents (
    id text PRIMARY KEY,
    party_id text NOT NULL REFERENCES parties (id),
    site text,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (id, party_id)
  )`,
  sql`CREATE INDEX agents_party_idx ON agents (party_id)`,
  sql`CREATE TABLE api_keys (
    id text PRIMARY KEY,
    prefix text NOT NULL UNIQUE,
    secret_hash text NOT NULL UNIQUE,
    party_id text NOT NULL REFERENCES parties (id),
    user_id text,
    agent_id text,
    roles text[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at timestamptz,
    CONSTRAINT api_keys_one_holder CHECK ((user_id IS NULL) <> (agent_id IS NULL)),
    -- A key's holder belongs to the key's party.
    FOREIGN KEY (user_id, party_id) REFERENCES users (id, party_id),
    FOREIGN KEY (agent_id, party_id) REFERENCES agents (id, party_id)
  )`,
  sql`CREATE TABLE contracts (
    id text PRIMARY KEY,
    provider_id text NOT NULL REFERENCES parties (id),
    client_id text NOT NULL REFERENCES parties (id),
    status text NOT NULL DEFAULT 'draft'
      CHECK (status IN ('draft', 'transition', 'active', 'reversibility', 'terminated')),
    current_version integer NOT NULL DEFAULT 1 CHECK (current_version >= 1),
    currency char(3) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
  )`,
  sql`CREATE TABLE contract_parties (
    contract_id text NOT NULL REFERENCES contracts (id),
    party_id text NOT NULL REFERENCES parties (id),
    PRIMARY KEY (contract_id, party_id)
  )`,
  // "Contracts my party is part of" reads this index only.
  sql`CREATE INDEX contract_parties_party_idx ON contract_parties (party_id, contract_id)`,
  sql`CREATE TABLE contract_versions (
    contract_id text NOT NULL REFERENCES contracts (id),
    version integer NOT NULL CHECK (version >= 1),
    document jsonb NOT NULL,
    created_by text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (contract_id, version)
  )`,
  sql`CREATE TABLE processes (
    id text PRIMARY KEY,
    contract_id text NOT NULL REFERENCES contracts (id),
    contract_version integer NOT NULL,
    process_type text NOT NULL,
    business_key text NOT NULL,
    requested_by text NOT NULL,
    requested_by_party text NOT NULL REFERENCES parties (id),
    status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed', 'failed', 'cancelled')),
    current_step text,
    started_at timestamptz NOT NULL DEFAULT now(),
    ended_at timestamptz,
    CONSTRAINT processes_business_key UNIQUE (contract_id, process_type, business_key),
    FOREIGN KEY (contract_id, contract_version) REFERENCES contract_versions (contract_id, version)
  )`,
  sql`CREATE INDEX processes_contract_status_idx ON processes (contract_id, status)`,
  sql`CREATE TABLE tasks (
    id text PRIMARY KEY,
    process_id text NOT NULL REFERENCES processes (id),
    step_key text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('execute', 'approve', 'consult', 'escalation')),
    party_id text NOT NULL REFERENCES parties (id),
    team text,
    requested_by text,
    title text NOT NULL,
    payload jsonb NOT NULL DEFAULT '{}',
    status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'completing', 'done', 'cancelled', 'expired')),
    due_at timestamptz(3),
    hard_deadline_at timestamptz(3),
    claimed_by text,
    claimed_at timestamptz,
    submission jsonb,
    completed_by text,
    completed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
  )`,
  sql`CREATE INDEX tasks_inbox_idx ON tasks (party_id, status, due_at)`,
  sql`CREATE INDEX tasks_process_idx ON tasks (process_id)`,
  sql`CREATE INDEX tasks_completing_idx ON tasks (claimed_at) WHERE status = 'completing'`,
  // No foreign key to processes: evidence is never refused because an index row is missing.
  sql`CREATE TABLE journal (
    process_id text NOT NULL,
    seq integer NOT NULL CHECK (seq >= 1),
    at timestamptz(3) NOT NULL,
    step_key text,
    event text NOT NULL,
    party_id text,
    actor text,
    clause text,
    data jsonb NOT NULL,
    prev_hash char(64) NOT NULL,
    hash char(64) NOT NULL,
    PRIMARY KEY (process_id, seq)
  )`,
  sql`CREATE FUNCTION mandate_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'restrict_violation';
    END
  $$`,
  sql`CREATE TRIGGER journal_append_only BEFORE UPDATE OR DELETE ON journal
    FOR EACH ROW EXECUTE FUNCTION mandate_refuse_change()`,
  sql`CREATE TRIGGER journal_no_truncate BEFORE TRUNCATE ON journal
    FOR EACH STATEMENT EXECUTE FUNCTION mandate_refuse_change()`,
  sql`CREATE TRIGGER contract_versions_immutable BEFORE UPDATE ON contract_versions
    FOR EACH ROW EXECUTE FUNCTION mandate_refuse_change()`,
  sql`CREATE TABLE outbox (
    id bigserial PRIMARY KEY,
    effect_key text NOT NULL UNIQUE,
    party_id text NOT NULL,
    event text NOT NULL,
    payload jsonb NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'parked', 'no-endpoint')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz
  )`,
  sql`CREATE INDEX outbox_due_idx ON outbox (status, next_attempt_at)`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of statements) await statement.execute(db);
}
