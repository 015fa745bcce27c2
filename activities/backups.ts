// Engine activities of backups and restore tests: what a workflow may not read itself.
import type { Kysely } from 'kysely';
import type { Schema } from '../db/schema';
import { latestVerifiedBackup, type VerifiedBackup } from '../db/backups';

export type { VerifiedBackup };

export function createBackupActivities({ db }: { db: Kysely<Schema> }) {
  return {
    /** The backup a restore test restores when its input names none (null: there is none yet). */
    async latestVerifiedBackup(input: { contractId: string; asset: string }): Promise<VerifiedBackup | null> {
      return (await latestVerifiedBackup(db, input)) ?? null;
    },
  };
}

export type BackupActivities = ReturnType<typeof createBackupActivities>;
