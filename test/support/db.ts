// One fresh PostgreSQL database per test file, migrated the way the app migrates.
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import pg from 'pg';
import { openDatabase, type Database } from '../../db/connection';
import type { Schema } from '../../db/schema';

/** The admin database tests create theirs from; TEST_DATABASE_URL overrides it. */
export const adminDatabaseUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  url: string;
  db: Kysely<Schema>;
  database: Database;
  drop(): Promise<void>;
}

async function asAdmin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminDatabaseUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(options: { maxConnections?: number } = {}): Promise<TestDatabase> {
  const name = `mandate_t_${randomBytes(6).toString('hex')}`;
  await asAdmin(`CREATE DATABASE ${name}`);
  const url = new URL(adminDatabaseUrl);
  url.pathname = `/${name}`;
  try {
    const database = await openDatabase({ url: url.toString(), maxConnections: options.maxConnections });
    return {
      url: url.toString(),
      db: database.db,
      database,
      async drop() {
        await database.close();
        await asAdmin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      },
    };
  } catch (error) {
    await asAdmin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    throw error;
  }
}
