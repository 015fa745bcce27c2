// A key's powers are the roles it was issued with that its holder still holds
// (db/api-keys.ts findPrincipalByHash): a change to a user's roles changes what every key of
// that user may do, so it is announced on the key channel like a change to the key itself
// (migration 0009), whatever made it (the API, a contract load, psql).
import { sql, type Kysely } from 'kysely';

const statements = [
  sql`CREATE FUNCTION mandate_user_changed() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    PERFORM pg_notify('mandate_api_keys', 'user:' || OLD.id);
    RETURN NULL;
  END $$`,
  // Only a real change: contract loads upsert their users with the same roles again.
  sql`CREATE TRIGGER users_roles_changed AFTER UPDATE OF roles, party_id ON users
    FOR EACH ROW WHEN (OLD.roles IS DISTINCT FROM NEW.roles OR OLD.party_id IS DISTINCT FROM NEW.party_id)
    EXECUTE FUNCTION mandate_user_changed()`,
  sql`CREATE TRIGGER users_deleted AFTER DELETE ON users FOR EACH ROW EXECUTE FUNCTION mandate_user_changed()`,
  // Row triggers do not see TRUNCATE: every cached principal goes (0009's function sends '*').
  sql`CREATE TRIGGER users_truncated AFTER TRUNCATE ON users FOR EACH STATEMENT EXECUTE FUNCTION mandate_party_kind_changed()`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of statements) await statement.execute(db);
}
