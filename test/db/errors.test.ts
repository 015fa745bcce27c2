// Database errors classified from real ones: what PostgreSQL (and PGlite) answer to refused
// data, lost races and lost connections, and the activity failure each becomes.
import { PGlite } from '@electric-sql/pglite';
import { ApplicationFailure } from '@temporalio/activity';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDataError, isTransientDbError, sqlState, toActivityFailure } from '../../db/errors';
import { createTestDatabase, type TestDatabase } from '../support/db';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  await sql`create table probe (id text primary key, note text, data jsonb)`.execute(t.db);
});
afterAll(async () => {
  await t.drop();
});

async function errorOf(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work();
  } catch (err) {
    return err;
  }
  throw new Error('expected the database to refuse');
}

function expectDataRejected(err: unknown, state: string) {
  expect(sqlState(err)).toBe(state);
  expect(isDataError(err)).toBe(true);
  expect(isTransientDbError(err)).toBe(false);
  const failure = toActivityFailure(err);
  expect(failure).toBeInstanceOf(ApplicationFailure);
  expect(failure).toMatchObject({ type: 'DataRejected', nonRetryable: true });
  expect(failure.message).toContain(`SQLSTATE ${state}`);
  return failure as ApplicationFailure;
}

function expectRetried(err: unknown) {
  expect(isDataError(err)).toBe(false);
  expect(isTransientDbError(err)).toBe(true);
  expect(toActivityFailure(err)).toBe(err);
}

describe('data errors from PostgreSQL', () => {
  it('when a text value holds NUL, then it is a data error (22021) and a non-retryable DataRejected failure', async () => {
    const err = await errorOf(() => t.db.insertInto('probe' as never).values({ id: 'nul-text', note: 'a\u0000b' } as never).execute());
    expectDataRejected(err, '22021');
  });

  it('when a jsonb value holds an escaped NUL, then it is a data error (22P05)', async () => {
    const err = await errorOf(() => sql`insert into probe (id, data) values ('nul-json', cast(${JSON.stringify({ model: 'T14\u0000' })} as jsonb))`.execute(t.db));
    const failure = expectDataRejected(err, '22P05');
    expect(failure.message).toContain('untranslatable_character');
  });

  it('when a key is inserted twice, then it is a data error (23505) naming the constraint, and the value stays out of the message', async () => {
    await sql`insert into probe (id) values ('emp-0042')`.execute(t.db);
    const err = await errorOf(() => sql`insert into probe (id) values ('emp-0042')`.execute(t.db));
    const failure = expectDataRejected(err, '23505');
    expect(failure.message).toContain('constraint probe_pkey');
    expect(failure.message).not.toContain('emp-0042');
  });
});

describe('transient errors', () => {
  it('when two serializable transactions write skew, then the loser is a transient error (40001), retried as is', async () => {
    const a = new pg.Client({ connectionString: t.url });
    const b = new pg.Client({ connectionString: t.url });
    await Promise.all([a.connect(), b.connect()]);
    try {
      await sql`create table skew (n int)`.execute(t.db);
      for (const c of [a, b]) {
        await c.query('begin isolation level serializable');
        await c.query('select count(*) from skew');
      }
      await a.query('insert into skew values (1)');
      await b.query('insert into skew values (2)');
      await a.query('commit');
      const err = await errorOf(() => b.query('commit'));
      expect(sqlState(err)).toBe('40001');
      expectRetried(err);
    } finally {
      await Promise.all([a.end(), b.end()]);
    }
  });

  it('when the server terminates the connection, then the error is transient (57P01 or "Connection terminated")', async () => {
    const victim = new pg.Client({ connectionString: t.url });
    await victim.connect();
    const lost = new Promise<unknown>((resolve) => victim.once('error', resolve));
    const pid = (await victim.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    await sql`select pg_terminate_backend(${pid})`.execute(t.db);
    const err = await Promise.race([lost, errorOf(() => victim.query('select 1'))]);
    expectRetried(err);
    await victim.end().catch(() => undefined);
  });

  it('when nothing listens on the port, then ECONNREFUSED is transient', async () => {
    const url = new URL(t.url);
    url.port = '1';
    const client = new pg.Client({ connectionString: url.toString() });
    const err = await errorOf(() => client.connect());
    expectRetried(err);
  });

  it('when the error is neither, then it is returned as it was (an Error), and neither test says yes', () => {
    const err = new TypeError('a bug');
    expect(isDataError(err)).toBe(false);
    expect(isTransientDbError(err)).toBe(false);
    expect(toActivityFailure(err)).toBe(err);
    expect(toActivityFailure('a string')).toBeInstanceOf(Error);
  });

  it('when a data error is the cause of another error, then it is still a data error', async () => {
    const inner = await errorOf(() => t.db.insertInto('probe' as never).values({ id: 'nul-cause', note: '\u0000' } as never).execute());
    expect(isDataError(new Error('journal write failed', { cause: inner }))).toBe(true);
  });
});

describe('PGlite (no DATABASE_URL)', () => {
  it('when PGlite refuses NUL in a value or a jsonb escape, then its errors carry the same SQLSTATEs', async () => {
    const db = new PGlite();
    try {
      expectDataRejected(await errorOf(() => db.query('select $1::text', ['a\u0000b'])), '22021');
      expectDataRejected(await errorOf(() => db.query('select $1::jsonb', ['"a\\u0000b"'])), '22P05');
      // A NUL inside the statement itself is a protocol violation: refused again on every retry.
      const inStatement = await errorOf(() => db.query("select 'a\u0000b'"));
      expectDataRejected(inStatement, '08P01');
    } finally {
      await db.close();
    }
  });
});
