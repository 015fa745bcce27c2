// Keyset pages in creation order: (created_at, id) after the last row of the previous page.
import { sql } from 'kysely';

/** A page in creation order, then by id. */
export interface CreatedPage {
  limit: number;
  /** The last row of the previous page: its creation instant (microseconds, as text) and id. */
  after?: { createdAt: string; id: string };
}

/**
 * The creation instant as PostgreSQL's own microsecond text, the sort key of a page cursor:
 * a JavaScript Date would round it and skip or repeat rows.
 */
export const createdKey = sql<string>`to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** The rows after the cursor's one. */
export function createdAfter(after: NonNullable<CreatedPage['after']>) {
  return sql<boolean>`(created_at, id) > (${after.createdAt}::timestamptz, ${after.id})`;
}

/** A page from `limit + 1` rows: the extra one only says a next page exists. */
export function pageOf<T>(rows: T[], limit: number): { rows: T[]; more: boolean } {
  return { rows: rows.slice(0, limit), more: rows.length > limit };
}
