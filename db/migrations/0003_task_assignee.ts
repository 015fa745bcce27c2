// A task may be assigned to one user of its party (reassign), and a contract records why
// and by whom it was terminated. Forward-only, like every migration.
import { sql, type Kysely } from 'kysely';

const statements = [
  sql`ALTER TABLE tasks ADD COLUMN assignee_user_id text`,
  // "My tasks": the inbox filtered by assignee.
  sql`CREATE INDEX tasks_assignee_idx ON tasks (party_id, assignee_user_id, status) WHERE assignee_user_id IS NOT NULL`,
  sql`ALTER TABLE contracts ADD COLUMN terminated_at timestamptz`,
  sql`ALTER TABLE contracts ADD COLUMN terminated_by text`,
  sql`ALTER TABLE contracts ADD COLUMN termination_reason text`,
  // The process list: newest first, a page at a time.
  sql`CREATE INDEX processes_started_idx ON processes (started_at DESC, id DESC)`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of statements) await statement.execute(db);
}
