// Issue 11: which errors mean "a dependency is out of reach" (503 + Retry-After, naming it)
// and which stay 500s; and a silent PostgreSQL fails a query within the connect timeout.
import { ServiceError } from '@temporalio/client';
import express from 'express';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problemMiddleware, unavailableDependency } from '../../api/errors';
import { connectTimeoutMs, openDatabase, type Database } from '../../db/connection';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { silentLog } from '../support/harness';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';

const grpcError = (code: number, details: string) => Object.assign(new Error(`${code} ${details}`), { code, details, metadata: {} });
const pgError = (code: string, message: string) => Object.assign(new Error(message), { code, severity: 'FATAL' });
const socketError = (code: string) => Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code, errno: -111, syscall: 'connect' });

describe('which errors are outages', () => {
  it.each([
    ['a refused connection', socketError('ECONNREFUSED'), 'database'],
    ['a refused connection on every address', new AggregateError([socketError('ECONNREFUSED'), socketError('ECONNREFUSED')]), 'database'],
    ['a reset connection', socketError('ECONNRESET'), 'database'],
    ['a connection lost mid-query', new Error('Connection terminated unexpectedly'), 'database'],
    ['the pool connect timeout', new Error('timeout exceeded when trying to connect'), 'database'],
    ['the client connect timeout', new Error('Connection terminated due to connection timeout', { cause: new Error('timeout expired') }), 'database'],
    ['SQLSTATE 08006 connection failure', pgError('08006', 'connection failure'), 'database'],
    ['SQLSTATE 53300 too many connections', pgError('53300', 'sorry, too many clients already'), 'database'],
    ['SQLSTATE 57P01 admin shutdown', pgError('57P01', 'terminating connection due to administrator command'), 'database'],
    ['SQLSTATE 57P03 cannot connect now', pgError('57P03', 'the database system is starting up'), 'database'],
    ['SQLSTATE 57014 statement timeout', pgError('57014', 'canceling statement due to statement timeout'), 'database'],
    ['gRPC UNAVAILABLE from the Temporal client', new ServiceError('Failed to start Workflow', { cause: grpcError(14, 'No connection established') }), 'temporal'],
    ['gRPC DEADLINE_EXCEEDED', grpcError(4, 'Deadline exceeded'), 'temporal'],
    ['gRPC RESOURCE_EXHAUSTED (too many updates in flight)', new ServiceError('Update failed', { cause: grpcError(8, 'limit on number of concurrent in-flight updates has been reached') }), 'temporal'],
  ])('when the error is %s, then it is an outage of the %s', (_what, err, dependency) => {
    expect(unavailableDependency(err)).toBe(dependency);
  });

  it.each([
    ['a unique violation', pgError('23505', 'duplicate key value violates unique constraint')],
    ['an undefined table', pgError('42P01', 'relation "nope" does not exist')],
    ['gRPC NOT_FOUND', new ServiceError('Workflow not found', { cause: grpcError(5, 'workflow not found') })],
    ['gRPC INVALID_ARGUMENT', grpcError(3, 'bad request')],
    ['a plain bug', new TypeError("Cannot read properties of undefined (reading 'id')")],
    ['a non-error', 'oops'],
  ])('when the error is %s, then it is not an outage', (_what, err) => {
    expect(unavailableDependency(err)).toBeUndefined();
  });
});

describe('the answer during an outage', () => {
  async function answerTo(err: unknown) {
    const app = express();
    app.get('/x', () => {
      throw err;
    });
    app.use(problemMiddleware(silentLog));
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as { port: number }).port}/x`);
      return { status: res.status, type: res.headers.get('content-type'), retryAfter: res.headers.get('retry-after'), body: (await res.json()) as Record<string, unknown> };
    } finally {
      server.close();
      server.closeAllConnections();
    }
  }

  it('when the database is unreachable, then the answer is a 503 problem naming it, with Retry-After', async () => {
    const res = await answerTo(new Error('Connection terminated unexpectedly'));
    expect(res).toMatchObject({ status: 503, retryAfter: '5', body: { type: '/problems/service-unavailable', status: 503, dependency: 'database', instance: '/x' } });
    expect(res.type).toContain('application/problem+json');
  });

  it('when Temporal is unavailable, then the answer is a 503 problem naming it, with Retry-After', async () => {
    const res = await answerTo(new ServiceError('Failed to start Workflow', { cause: grpcError(14, 'No connection established') }));
    expect(res).toMatchObject({ status: 503, retryAfter: '5', body: { type: '/problems/service-unavailable', dependency: 'temporal' } });
  });

  it('when the error is anything else, then it stays a 500', async () => {
    expect(await answerTo(new TypeError('bug'))).toMatchObject({ status: 500, retryAfter: null, body: { type: '/problems/internal' } });
  });
});

describe('a PostgreSQL that goes silent', () => {
  let t: TestDatabase;
  let proxy: TcpProxy;
  let database: Database;
  beforeAll(async () => {
    t = await createTestDatabase();
    const target = new URL(t.url);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  });
  afterAll(async () => {
    await database?.close();
    await proxy?.close();
    await t?.drop();
  });

  it('when no connect_timeout is given, then a connection waits 5 s at most; the URL can say otherwise', () => {
    expect(connectTimeoutMs('postgres://u@h/db')).toBe(5_000);
    expect(connectTimeoutMs('postgres://u@h/db?connect_timeout=2')).toBe(2_000);
    expect(connectTimeoutMs('postgres://u@h/db?connect_timeout=0')).toBe(5_000);
  });

  it('when the line goes silent and open connections are cut, then a query fails within the connect timeout, as an outage', async () => {
    const url = new URL(proxy.via(t.url));
    url.searchParams.set('connect_timeout', '1');
    database = await openDatabase({ url: url.toString() });
    await sql`select 1`.execute(database.db);
    proxy.setMode('blackhole');
    proxy.killConnections();
    await new Promise((resolve) => setTimeout(resolve, 100)); // The pool drops its dead idle connections.
    const started = Date.now();
    const err = await sql`select 1`.execute(database.db).then(() => undefined, (e: unknown) => e);
    // A new connection is accepted and never answered: the connect timeout ends the wait.
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(unavailableDependency(err)).toBe('database');
    proxy.setMode('forward');
    await expect(sql`select 1`.execute(database.db)).resolves.toBeDefined();
  });

  it('when the connection of a query in flight is cut, then the query fails as an outage and nothing else is thrown', async () => {
    // Vitest fails the run on an uncaught exception: pg emits 'error' on a checked-out client.
    const inFlight = sql`select pg_sleep(5)`.execute(database.db).then(() => undefined, (e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 200));
    proxy.killConnections();
    expect(unavailableDependency(await inFlight)).toBe('database');
    await new Promise((resolve) => setTimeout(resolve, 200));
    await expect(sql`select 1`.execute(database.db)).resolves.toBeDefined();
  });

  it('when a real pg pool cannot connect at all, then its error is an outage too', async () => {
    const pool = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/none', connectionTimeoutMillis: 500 });
    const err = await pool.query('select 1').then(() => undefined, (e: unknown) => e);
    await pool.end();
    expect(unavailableDependency(err)).toBe('database');
  });
});
