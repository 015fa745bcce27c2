// A contract changes only when both parties sign (docs/ARCHITECTURE.md "Contract signing"):
// a version (append-only, as ever) may be a proposal, signed or declined by the
// contract-proposal process; a version without a proposal row was in force from the start
// (written before this change, or by the example loader's bootstrap). Signing tasks have their
// own kind, completed by a party's signatories.
import { sql, type Kysely } from 'kysely';

const statements = [
  sql`CREATE TABLE contract_proposals (
    contract_id text NOT NULL,
    version integer NOT NULL,
    state text NOT NULL DEFAULT 'proposed' CHECK (state IN ('proposed', 'signed', 'declined')),
    document_sha256 text NOT NULL,
    process_id text,
    proposed_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    decided_at timestamptz,
    PRIMARY KEY (contract_id, version),
    FOREIGN KEY (contract_id, version) REFERENCES contract_versions (contract_id, version)
  )`,
  sql`ALTER TABLE tasks DROP CONSTRAINT tasks_kind_check`,
  sql`ALTER TABLE tasks ADD CONSTRAINT tasks_kind_check CHECK (kind IN ('execute', 'approve', 'consult', 'escalation', 'sign'))`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of statements) await statement.execute(db);
}
