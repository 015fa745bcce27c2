// Backups as the journal records them: a backup run journals `backup.verified` for each
// backup whose checksum the provider's storage confirmed (workflows/backup.ts).
import { sql, type Kysely } from 'kysely';
import type { Schema } from './schema';

export interface VerifiedBackup {
  asset: string;
  backupId: string;
  location?: string;
  checksum?: string;
  /** The backup run's business day, and the process that ran it. */
  day?: string;
  processId: string;
  verifiedAt: string;
}

/** The asset's latest verified backup under the contract, or undefined. */
export async function latestVerifiedBackup(db: Kysely<Schema>, input: { contractId: string; asset: string }): Promise<VerifiedBackup | undefined> {
  // Backup runs' ids are mandate:<contract>:backup:<business key>; contract ids are slugs (no LIKE wildcards).
  const row = await db
    .selectFrom('journal')
    .select(['process_id', 'at', 'data'])
    .where('event', '=', 'backup.verified')
    .where('process_id', 'like', `mandate:${input.contractId}:backup:%`)
    .where(sql<string>`data->>'asset'`, '=', input.asset)
    .orderBy('at', 'desc')
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (!row) return undefined;
  const data = row.data as Record<string, unknown>;
  const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const backupId = text(data.backupId);
  if (!backupId) return undefined;
  return {
    asset: input.asset,
    backupId,
    ...(text(data.location) ? { location: text(data.location) } : {}),
    ...(text(data.checksum) ? { checksum: text(data.checksum) } : {}),
    ...(text(data.day) ? { day: text(data.day) } : {}),
    processId: row.process_id,
    verifiedAt: new Date(row.at).toISOString(),
  };
}
