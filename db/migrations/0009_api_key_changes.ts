// API nodes keep the principal behind a key in memory (api/principal-cache.ts): a change to
// what a key may do is announced to all of them, whatever made it (the API, a script, psql).
import { sql, type Kysely } from 'kysely';

const statements = [
  sql`CREATE FUNCTION mandate_api_key_changed() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    PERFORM pg_notify('mandate_api_keys', OLD.id);
    RETURN NULL;
  END $$`,
  // Not on last_used_at: that one is written once a minute per key and changes nothing.
  sql`CREATE TRIGGER api_keys_changed AFTER UPDATE OF secret_hash, party_id, user_id, agent_id, roles, revoked_at OR DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION mandate_api_key_changed()`,
  // A party's kind is part of every principal of the party: any change empties the caches.
  sql`CREATE FUNCTION mandate_party_kind_changed() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    PERFORM pg_notify('mandate_api_keys', '*');
    RETURN NULL;
  END $$`,
  // Only a real change: every contract written upserts its parties with their kind.
  sql`CREATE TRIGGER parties_kind_changed AFTER UPDATE OF kind ON parties
    FOR EACH ROW WHEN (OLD.kind IS DISTINCT FROM NEW.kind) EXECUTE FUNCTION mandate_party_kind_changed()`,
  sql`CREATE TRIGGER parties_deleted AFTER DELETE ON parties FOR EACH ROW EXECUTE FUNCTION mandate_party_kind_changed()`,
  // Row triggers do not see TRUNCATE.
  sql`CREATE TRIGGER api_keys_truncated AFTER TRUNCATE ON api_keys FOR EACH STATEMENT EXECUTE FUNCTION mandate_party_kind_changed()`,
  sql`CREATE TRIGGER parties_truncated AFTER TRUNCATE ON parties FOR EACH STATEMENT EXECUTE FUNCTION mandate_party_kind_changed()`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of statements) await statement.execute(db);
}
