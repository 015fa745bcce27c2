// Jobs offered to party agents (docs/ARCHITECTURE.md "Agents"). The idempotency key is process + step
// (+ asset): the same on every attempt, so an action retried never acts twice.
import { sql, type Kysely } from 'kysely';

const statements = [
  sql`CREATE TABLE agent_jobs (
    id text PRIMARY KEY,
    process_id text NOT NULL,
    step_key text NOT NULL,
    party_id text NOT NULL REFERENCES parties (id),
    action text NOT NULL,
    params jsonb NOT NULL,
    idempotency_key text NOT NULL UNIQUE,
    status text NOT NULL DEFAULT 'offered' CHECK (status IN ('offered', 'running', 'succeeded', 'failed', 'withdrawn')),
    agent_id text,
    attempt integer NOT NULL DEFAULT 0,
    task_token text,
    pickup_deadline_at timestamptz,
    picked_at timestamptz,
    heartbeat_at timestamptz,
    output jsonb,
    reason text,
    retryable boolean,
    created_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
  )`,
  sql`CREATE INDEX agent_jobs_offered_idx ON agent_jobs (party_id, created_at) WHERE status = 'offered'`,
  sql`CREATE INDEX agent_jobs_process_idx ON agent_jobs (process_id)`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of statements) await statement.execute(db);
}
