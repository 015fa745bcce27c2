import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../db/connection';
import { migrationProvider } from '../../db/migrations';
import { appendJournal, verifyJournal } from '../../db/journal';
import { claimTask, openTasks } from '../../db/tasks';
import { createParty } from '../../db/parties';
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

describe('one provider per deployment', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
    await seedParties(t.db);
  });
  afterAll(async () => {
    await t.drop();
  });

  it('when providers are created concurrently, then the database keeps one and the others get nothing', async () => {
    await sql`delete from users where party_id = 'acme-it'`.execute(t.db);
    await sql`update parties set contracted_by = null where contracted_by = 'acme-it'`.execute(t.db);
    await sql`delete from parties where id = 'acme-it'`.execute(t.db);
    const racers = ['p-1', 'p-2', 'p-3', 'p-4', 'p-5'];
    const results = await Promise.all(racers.map((id) => createParty(t.db, { id, kind: 'provider', name: id, timezone: 'Europe/Paris' })));
    expect(results.filter((r) => r !== undefined)).toHaveLength(1);
    const { rows } = await sql<{ id: string }>`select id from parties where kind = 'provider'`.execute(t.db);
    expect(rows).toHaveLength(1);
    await expect(sql`insert into parties (id, kind, name, timezone) values ('p-6', 'provider', 'P6', 'UTC')`.execute(t.db)).rejects.toThrow(/parties_one_provider/);
  });

  it('when an older database holds two providers, then the migration stops saying which, and passes once one is changed', async () => {
    await sql`drop index parties_one_provider`.execute(t.db);
    await sql`delete from kysely_migration where name = '0008_one_provider'`.execute(t.db);
    await sql`insert into parties (id, kind, name, timezone) values ('zz-second', 'provider', 'Second', 'UTC')`.execute(t.db);
    await expect(openDatabase({ url: t.url })).rejects.toThrow(/2 provider parties \(p-\d, zz-second\): a deployment has one provider/);
    await sql`update parties set kind = 'client' where id = 'zz-second'`.execute(t.db);
    const reopened = await openDatabase({ url: t.url });
    await reopened.close();
    const { rows } = await sql<{ indexname: string }>`select indexname from pg_indexes where indexname = 'parties_one_provider'`.execute(t.db);
    expect(rows).toHaveLength(1);
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
