import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../db/connection';
import { migrationProvider } from '../../db/migrations';
import { appendJournal, verifyJournal } from '../../db/journal';
import { claimTask, openTasks } from '../../db/tasks';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { seedContract, seedParties, seedProcess } from './seed';

const tables = [
  'agents',
  'api_keys',
  'contract_parties',
  'contract_versions',
  'contracts',
  'idempotency_keys',
  'journal',
  'outbox',
  'parties',
  'processes',
  'tasks',
  'users',
  'webhook_subscriptions',
];

describe('migrations on PostgreSQL', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(async () => {
    await t.drop();
  });

  it('when a database is opened, then every table exists and the migration is recorded', async () => {
    const { rows } = await sql<{ table_name: string }>`
      select table_name from information_schema.tables
      where table_schema = 'public' and table_name not like 'kysely_%' order by table_name`.execute(t.db);
    // Other migrations add their own tables: these are the ones every deployment has.
    expect(rows.map((row) => row.table_name)).toEqual(expect.arrayContaining(tables));
    const migrations = await sql<{ name: string }>`select name from kysely_migration`.execute(t.db);
    expect(migrations.rows.map((row) => row.name)).toEqual(Object.keys(await migrationProvider.getMigrations()).sort());
  });

  it('when the same database is opened again, then nothing is migrated twice', async () => {
    const again = await openDatabase({ url: t.url });
    await again.close();
    const migrations = await sql<{ name: string }>`select name from kysely_migration`.execute(t.db);
    expect(migrations.rows).toHaveLength(Object.keys(await migrationProvider.getMigrations()).length);
  });

  it('when an api key names both a user and an agent, then the check refuses it', async () => {
    await seedParties(t.db);
    await expect(
      sql`insert into api_keys (id, prefix, secret_hash, party_id, user_id, agent_id)
          values ('k', 'p', 'h', 'globex', 'bob', 'globex-agent-1')`.execute(t.db),
    ).rejects.toThrow(/api_keys_one_holder/);
  });
});

describe('migrations on PGlite', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'mandate-pglite-'));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('when PGlite is opened with no url, then the schema works there too and persists under <dataDir>/pgdata', async () => {
    const first = await openDatabase({ dataDir });
    expect(first.kind).toBe('pglite');
    await seedParties(first.db);
    await seedContract(first.db);
    const process = await seedProcess(first.db);
    await openTasks(first.db, [
      { id: 't1', processId: process.id, stepKey: 'approve', kind: 'approve', partyId: 'globex', title: 'Approve', payload: [1, 2] },
    ]);
    expect(await claimTask(first.db, { taskId: 't1', partyId: 'globex', userId: 'bob', submission: { ok: true } })).toBeDefined();
    await appendJournal(first.db, process.id, [{ seq: 1, at: '2025-01-01T00:00:00Z', event: 'started', data: {} }]);
    await expect(sql`delete from journal`.execute(first.db)).rejects.toThrow(/append-only/);
    await first.close();

    const second = await openDatabase({ dataDir });
    expect(await verifyJournal(second.db, process.id)).toEqual({ ok: true, length: 1 });
    const migrations = await sql<{ name: string }>`select name from kysely_migration`.execute(second.db);
    expect(migrations.rows).toHaveLength(Object.keys(await migrationProvider.getMigrations()).length);
    await second.close();
  });
});
