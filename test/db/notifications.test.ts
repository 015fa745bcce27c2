// Key changes (and changes to a user's roles) are announced on `mandate_api_keys` by the database itself (whatever wrote them),
// heard by a listener that says when it is live and comes back after losing its connection.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueApiKey, revokeApiKey } from '../../db/api-keys';
import { openDatabase, type Database } from '../../db/connection';
import { API_KEY_CHANNEL, listenPostgres, type ChangeListener } from '../../db/notifications';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { waitFor } from '../support/harness';
import { startTcpProxy } from '../support/tcp-proxy';
import { seedParties } from './seed';

function recorder() {
  const heard: string[] = [];
  const live: boolean[] = [];
  return { heard, live, onNotify: (p: string) => heard.push(p), onLive: (l: boolean) => live.push(l) };
}

async function announcesKeyChanges(database: Database) {
  await seedParties(database.db);
  const r = recorder();
  const listener: ChangeListener = await database.listen(API_KEY_CHANNEL, r);
  try {
    await waitFor('the listener to be live', async () => r.live.at(-1) === true);
    const key = await issueApiKey(database.db, { partyId: 'globex', userId: 'bob', roles: ['approver'] });
    await sql`update api_keys set last_used_at = now() where id = ${key.id}`.execute(database.db);
    await revokeApiKey(database.db, key.id);
    await waitFor('the revocation to be heard', async () => r.heard.includes(key.id));
    // A user's roles bound what its keys do (migration 0010): a real change is announced, a rewrite or a rename is not.
    await sql`update users set roles = roles, name = 'Bob B.' where id = 'bob'`.execute(database.db);
    await sql`update users set roles = '{viewer}' where id = 'bob'`.execute(database.db);
    await waitFor('the role change to be heard', async () => r.heard.includes('user:bob'));
    await sql`update parties set name = 'Globex Corp' where id = 'globex'`.execute(database.db);
    await sql`update parties set kind = 'client' where id = 'globex'`.execute(database.db);
    await sql`update parties set kind = 'third-party', contracted_by = 'acme-it' where id = 'globex'`.execute(database.db);
    await waitFor('the party change to be heard', async () => r.heard.includes('*'));
    // Issuing and touching announce nothing; renaming a party or rewriting its kind unchanged neither.
    expect(r.heard).toEqual([key.id, 'user:bob', '*']);
  } finally {
    await listener.stop();
  }
  expect(r.live.at(-1)).toBe(false);
}

describe('key change notifications on PostgreSQL', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(async () => {
    await t.drop();
  });

  it('when a key is revoked or a party changes kind, then listeners hear it; using a key is not announced', async () => {
    await announcesKeyChanges(t.database);
  });

  it('when the listening connection is killed, then the listener says it is not live, reconnects and hears again', async () => {
    const r = recorder();
    const listener = await t.database.listen(API_KEY_CHANNEL, r);
    try {
      await waitFor('the listener to be live', async () => r.live.at(-1) === true);
      await sql`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and query = ${`LISTEN ${API_KEY_CHANNEL}`}`.execute(t.db);
      await waitFor('the loss to be noticed', async () => r.live.includes(false));
      await waitFor('the listener to be live again', async () => r.live.at(-1) === true, 10_000);
      const key = await issueApiKey(t.db, { partyId: 'globex', userId: 'bob', roles: ['approver'] });
      await revokeApiKey(t.db, key.id);
      await waitFor('the revocation to be heard after the reconnection', async () => r.heard.includes(key.id));
    } finally {
      await listener.stop();
    }
  });
});

describe('a listener whose connection goes silent', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(async () => {
    await t.drop();
  });

  it('when the connection stays open but delivers nothing, then its own ping is missed, it says so and reconnects', async () => {
    // A TCP proxy to PostgreSQL that can go silent (a half-open socket, a pooler dropping NOTIFY).
    const target = new URL(t.url);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const viaProxy = proxy.via(t.url);
    const r = recorder();
    const listener = listenPostgres(viaProxy, API_KEY_CHANNEL, r, undefined, { retryMs: 100, pingMs: 200 });
    try {
      await waitFor('the listener to be live', async () => r.live.at(-1) === true);
      await new Promise((resolve) => setTimeout(resolve, 700)); // Pings come back while the line works.
      expect(r.live).toEqual([true]);
      proxy.setMode('blackhole');
      await waitFor('the silence to be noticed', async () => r.live.includes(false), 5000);
      proxy.killConnections();
      proxy.setMode('forward');
      await waitFor('the listener to be live again', async () => r.live.at(-1) === true, 5000);
      expect(r.heard).toEqual([]); // Pings are never passed on as key changes.
    } finally {
      await listener.stop();
      await proxy.close();
    }
  });
});

describe('key change notifications on PGlite', () => {
  let dataDir: string;
  let database: Database;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'mandate-pglite-'));
    database = await openDatabase({ dataDir });
  });
  afterAll(async () => {
    await database.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('when a key is revoked or a party changes kind, then listeners hear it too', async () => {
    await announcesKeyChanges(database);
  });
});
