import { sql, type RawBuilder } from 'kysely';

/** A value for a jsonb column: sent as JSON text, so arrays never become SQL arrays (pg's default). */
export function jsonb<T>(value: T): RawBuilder<T> {
  return sql<T>`cast(${JSON.stringify(value ?? null)} as jsonb)`;
}
