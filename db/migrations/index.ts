// Listed in code, not read from a folder, so migrations run the same under tsx and bundlers.
import type { Migration, MigrationProvider } from 'kysely';
import * as initial from './0001_initial';

const migrations: Record<string, Migration> = {
  '0001_initial': initial,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: () => Promise.resolve(migrations),
};
