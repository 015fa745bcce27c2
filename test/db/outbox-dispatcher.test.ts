import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../db/connection';
import { enqueueOutbox, getOutboxEntry } from '../../db/outbox';
import { createOutboxDispatcher, type DispatcherLog, type OutboxDispatcherOptions } from '../../worker/outbox-dispatcher';
import { createTestDatabase, type TestDatabase } from '../support/db';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

const secret = 'whsec-test-secret-value';
let t: TestDatabase;
let server: Server;
let url: string;
let received: Received[];
let status: number;
let delayMs: number;
let logged: string[];

const log: DispatcherLog = {
  debug: (obj, msg) => logged.push(JSON.stringify([obj, msg])),
  info: (obj, msg) => logged.push(JSON.stringify([obj, msg])),
  warn: (obj, msg) => logged.push(JSON.stringify([obj, msg])),
  error: (obj, msg) => logged.push(JSON.stringify([obj, msg])),
};

function dispatcher(overrides: Partial<OutboxDispatcherOptions> = {}) {
  return createOutboxDispatcher({
    db: t.db,
    endpointFor: (partyId) => (partyId === 'globex' ? { url, secret } : undefined),
    log,
    ...overrides,
  });
}

beforeAll(async () => {
  t = await createTestDatabase();
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      setTimeout(() => res.writeHead(status).end(), delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await t.drop();
});
beforeEach(() => {
  received = [];
  status = 200;
  delayMs = 0;
  logged = [];
});

const inOneSecond = () => new Date(Date.now() + 1000);

describe('outbox dispatcher', () => {
  it('when a notification is sent, then its signature verifies against the raw body and the row is sent', async () => {
    await enqueueOutbox(t.db, [{ effectKey: 'p1:3:globex', partyId: 'globex', event: 'task.opened', payload: { taskId: 't1', secretNote: 'hidden' } }]);
    await enqueueOutbox(t.db, [{ effectKey: 'p1:3:globex', partyId: 'globex', event: 'task.opened', payload: {} }]);
    expect(await dispatcher().dispatchOnce(inOneSecond())).toEqual({ sent: 1, failed: 0, parked: 0, noEndpoint: 0 });

    expect(received).toHaveLength(1);
    const [{ headers, body }] = received as [Received];
    expect(headers['mandate-event']).toBe('task.opened');
    expect(headers['mandate-delivery']).toBe('p1:3:globex');
    const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(headers['mandate-signature']));
    expect(match).not.toBeNull();
    const [, timestamp, v1] = match!;
    expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(30);
    expect(v1).toBe(createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex'));
    expect(JSON.parse(body)).toMatchObject({ id: 'p1:3:globex', event: 'task.opened', partyId: 'globex', payload: { taskId: 't1' } });
    expect(await getOutboxEntry(t.db, 'p1:3:globex')).toMatchObject({ status: 'sent', attempts: 1 });
    expect(logged.join('\n')).not.toContain(secret);
    expect(logged.join('\n')).not.toContain('hidden');
  });

  it('when the endpoint answers 500, then it is retried after 1s, 2s and parked after maxAttempts', async () => {
    status = 500;
    await enqueueOutbox(t.db, [{ effectKey: 'p2:1:globex', partyId: 'globex', event: 'step.late', payload: {} }]);
    const d = dispatcher({ maxAttempts: 3, baseDelayMs: 1000 });
    const start = inOneSecond();
    const at = (ms: number) => new Date(start.getTime() + ms);

    expect(await d.dispatchOnce(start)).toMatchObject({ failed: 1 });
    expect(await getOutboxEntry(t.db, 'p2:1:globex')).toMatchObject({ status: 'pending', attempts: 1, last_error: 'HTTP 500', next_attempt_at: at(1000) });
    expect(await d.dispatchOnce(at(999))).toEqual({ sent: 0, failed: 0, parked: 0, noEndpoint: 0 });
    expect(await d.dispatchOnce(at(1000))).toMatchObject({ failed: 1 });
    expect((await getOutboxEntry(t.db, 'p2:1:globex'))?.next_attempt_at).toEqual(at(3000));
    expect(await d.dispatchOnce(at(3000))).toMatchObject({ parked: 1 });
    expect(await getOutboxEntry(t.db, 'p2:1:globex')).toMatchObject({ status: 'parked', attempts: 3, last_error: 'HTTP 500' });
    expect(received).toHaveLength(3);
    expect(await d.dispatchOnce(at(600_000))).toEqual({ sent: 0, failed: 0, parked: 0, noEndpoint: 0 });
  });

  it('when the party has no endpoint, then the row is no-endpoint and nothing is sent', async () => {
    await enqueueOutbox(t.db, [{ effectKey: 'p3:1:globex-vendor', partyId: 'dc-north', event: 'step.done', payload: {} }]);
    expect(await dispatcher().dispatchOnce(inOneSecond())).toMatchObject({ noEndpoint: 1, failed: 0 });
    expect(await getOutboxEntry(t.db, 'p3:1:globex-vendor')).toMatchObject({ status: 'no-endpoint', last_error: null });
    expect(received).toEqual([]);
  });

  it('when two dispatchers run at once, then every notification is delivered exactly once', async () => {
    delayMs = 20;
    await enqueueOutbox(
      t.db,
      Array.from({ length: 30 }, (_, i) => ({ effectKey: `p4:${i}:globex`, partyId: 'globex', event: 'step.done', payload: { i } })),
    );
    const other = await openDatabase({ url: t.url });
    try {
      const first = dispatcher({ batchSize: 4, pollMs: 10 });
      const second = dispatcher({ db: other.db, batchSize: 4, pollMs: 10 });
      first.start();
      second.start();
      const deadline = Date.now() + 20_000;
      while (received.length < 30 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      await Promise.all([first.stop(), second.stop()]);
    } finally {
      await other.close();
    }
    const deliveries = received.map((r) => String(r.headers['mandate-delivery']));
    expect(deliveries).toHaveLength(30);
    expect(new Set(deliveries).size).toBe(30);
    const pending = await t.db.selectFrom('outbox').select('id').where('effect_key', 'like', 'p4:%').where('status', '!=', 'sent').execute();
    expect(pending).toEqual([]);
  });
});
