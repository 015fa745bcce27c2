// Opens the system of record: PostgreSQL when a URL is given, else PGlite under the data dir.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, Migrator, PostgresDialect } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import pg from 'pg';
import { migrationProvider } from './migrations';
import { listenPglite, listenPostgres, type ChangeHandlers, type ChangeListener } from './notifications';
import type { Schema } from './schema';

/** The subset of a pino logger the db layer uses. */
export interface DbLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface Database {
  db: Kysely<Schema>;
  kind: 'postgres' | 'pglite';
  /** LISTEN on a channel (db/notifications.ts); stop the listener before closing. */
  listen(channel: string, handlers: ChangeHandlers): Promise<ChangeListener>;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** postgres:// URL; without it, PGlite stores its files in `<dataDir>/pgdata`. */
  url?: string | undefined;
  dataDir?: string | undefined;
  log?: DbLog | undefined;
  /** pg pool size (postgres only). */
  maxConnections?: number;
}

const INT8_OID = 20;

// Row counts and bigserial ids stay far below 2^53: read int8 as a number, like PGlite does.
const pgTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
};

export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  const database = options.url ? openPostgres(options.url, options.maxConnections, options.log) : await openPglite(options.dataDir);
  try {
    await migrateToLatest(database.db, options.log);
  } catch (error) {
    await database.close();
    throw error;
  }
  return database;
}

/** How long a query waits for a connection (the pool's queue and the connect itself) before failing. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

/**
 * A connection that cannot be made within the timeout fails the query, so an unreachable or
 * silent PostgreSQL is an error (the API's 503) within seconds instead of a wait without end.
 * The URL's libpq `connect_timeout` (seconds) overrides the default.
 */
export function connectTimeoutMs(url: string): number {
  const given = new URL(url).searchParams.get('connect_timeout');
  const seconds = given === null ? NaN : Number(given);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : DEFAULT_CONNECT_TIMEOUT_MS;
}

function openPostgres(url: string, max = 10, log?: DbLog): Database {
  // Keepalive: a connection whose peer vanished without a reset is found and dropped.
  const pool = new pg.Pool({ connectionString: url, max, types: pgTypes, connectionTimeoutMillis: connectTimeoutMs(url), keepAlive: true, keepAliveInitialDelayMillis: 10_000 });
  // An idle connection dropped by the server (restart, failover) must not crash the process:
  // the pool replaces it on the next checkout.
  pool.on('error', (err) => log?.warn({ err: err.message }, 'idle database connection lost'));
  // A connection lost while checked out (a query in flight) emits 'error' on its client, which
  // the pool does not listen to then: unheard, it would crash the process. Its query fails on
  // its own (the API's 503) and the pool drops the client when it comes back.
  pool.on('connect', (client) => client.on('error', (err) => log?.warn({ err: err.message }, 'database connection lost')));
  const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
  return { db, kind: 'postgres', listen: (channel, handlers) => Promise.resolve(listenPostgres(url, channel, handlers, log)), close: () => db.destroy() };
}

async function openPglite(dataDir: string | undefined): Promise<Database> {
  if (!dataDir) throw new Error('openDatabase: dataDir is required when no database url is given');
  const dir = path.join(dataDir, 'pgdata');
  await mkdir(dir, { recursive: true });
  const client = await PGlite.create(dir);
  const db = new Kysely<Schema>({ dialect: new PGliteDialect(client) });
  // The dialect closes the PGlite instance when Kysely is destroyed.
  return { db, kind: 'pglite', listen: (channel, handlers) => listenPglite(client, channel, handlers), close: () => db.destroy() };
}

async function migrateToLatest(db: Kysely<Schema>, log: DbLog | undefined): Promise<void> {
  // Migrations land from parallel branches: a database may have run a later one first.
  const migrator = new Migrator({ db, provider: migrationProvider, allowUnorderedMigrations: true });
  const { error, results } = await migrator.migrateToLatest();
  for (const result of results ?? []) {
    if (result.status === 'Success') log?.info({ migration: result.migrationName }, 'migration applied');
    else if (result.status === 'Error') log?.error({ migration: result.migrationName }, 'migration failed');
  }
  if (error) throw error instanceof Error ? error : new Error(`migration failed: ${String(error)}`);
}
