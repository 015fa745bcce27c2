// One row per SLA clock of a process: written once when it breaches, completed when it
// stops. Monthly attainment per priority and billing credits are computed from these rows.
import { sql, type Kysely } from 'kysely';

const statements = [
  sql`CREATE TABLE sla_records (
    process_id text NOT NULL,
    clock text NOT NULL,
    contract_id text NOT NULL,
    clause text NOT NULL,
    priority text,
    target text NOT NULL,
    target_ms bigint NOT NULL,
    elapsed_ms bigint,
    breached boolean NOT NULL,
    breached_at timestamptz,
    stopped_at timestamptz,
    penalties_apply boolean NOT NULL,
    started_at timestamptz NOT NULL,
    PRIMARY KEY (process_id, clock)
  )`,
  sql`CREATE INDEX sla_records_contract_idx ON sla_records (contract_id, started_at)`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of statements) await statement.execute(db);
}
