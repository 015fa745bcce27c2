// Webhook subscriptions in the outbox dispatcher: one row goes to every matching endpoint of
// its party, is sent once all of them answered, and a retry goes only to those that failed.
import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { enqueueOutbox, getOutboxEntry } from '../../db/outbox';
import { createSecretBox, type SecretBox } from '../../db/secret-box';
import { createWebhookSubscription, disableWebhookSubscription, eventMatches } from '../../db/webhooks';
import { createOutboxDispatcher, subscriptionEndpoints, type DispatcherLog } from '../../worker/outbox-dispatcher';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { upsertParty } from '../../db/parties';
import { publicOnlyFetch, publicOnlyLookup, type Resolve } from '../../worker/webhook-address';
import { seedParties } from './seed';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

const quiet: DispatcherLog = { info: () => undefined, warn: () => undefined, error: () => undefined };
const oldKey = { id: 'old', key: randomBytes(32) };
const newKey = { id: 'new', key: randomBytes(32) };
const box: SecretBox = createSecretBox([newKey, oldKey]);

let t: TestDatabase;
let server: Server;
let base: string;
let received: Received[];
/** Path → HTTP status to answer (200 otherwise). */
let failing: Map<string, number>;

beforeAll(async () => {
  t = await createTestDatabase();
  await seedParties(t.db);
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(failing.get(req.url ?? '') ?? 200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await t.drop();
});
beforeEach(() => {
  received = [];
  failing = new Map();
});

async function subscribe(partyId: string, path: string, events: string[], sealWith: SecretBox = box) {
  const id = `wh-${path.slice(1)}`;
  const secret = `whsec_${randomBytes(8).toString('hex')}`;
  await createWebhookSubscription(t.db, { id, partyId, url: base + path, events, sealedSecret: sealWith.seal(secret, `webhook:${id}`) });
  return { id, secret };
}

const fallbackSecret = 'config-secret-0123456789';
const dispatcher = () =>
  createOutboxDispatcher({
    db: t.db,
    log: quiet,
    endpointsFor: subscriptionEndpoints({ db: t.db, secretBox: box, allowInternalAddresses: true, fallback: (partyId) => (partyId === 'dc-north' ? { url: `${base}/config`, secret: fallbackSecret } : undefined) }),
    baseDelayMs: 1000,
    maxAttempts: 3,
  });
const soon = () => new Date(Date.now() + 1000);

function verify(r: Received, secret: string): boolean {
  const [, ts, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(r.headers['mandate-signature'])) ?? [];
  return v1 === createHmac('sha256', secret).update(`${ts}.${r.body}`).digest('hex');
}

describe('event patterns', () => {
  it('when patterns are matched, then * is everything, a.* a prefix, anything else itself', () => {
    expect(eventMatches(['*'], 'step.completed')).toBe(true);
    expect(eventMatches(['step.*'], 'step.overdue')).toBe(true);
    expect(eventMatches(['step.*'], 'steps.overdue')).toBe(false);
    expect(eventMatches(['step.completed'], 'step.completed')).toBe(true);
    expect(eventMatches(['step.completed'], 'step.overdue')).toBe(false);
  });
});

describe('secret box', () => {
  it('when a value is sealed, then it opens with the same context, also after a rotation, and not elsewhere', () => {
    const sealed = createSecretBox([oldKey]).seal('s3cret', 'webhook:a');
    expect(sealed).not.toContain('s3cret');
    expect(box.open(sealed, 'webhook:a')).toBe('s3cret');
    expect(() => box.open(sealed, 'webhook:b')).toThrow();
    expect(() => createSecretBox([newKey]).open(sealed, 'webhook:a')).toThrow(/unknown key/);
    expect(box.seal('x', 'c')).toMatch(/^sb1:new:/);
  });
});

describe('outbox dispatch to webhook subscriptions', () => {
  it('when a party has several matching subscriptions, then each gets the row signed with its own secret; a failed one alone is retried', async () => {
    const a = await subscribe('globex', '/a', ['step.*']);
    const b = await subscribe('globex', '/b', ['*']);
    await subscribe('globex', '/c', ['task.opened']);
    const d = await subscribe('globex', '/d', ['*']);
    await disableWebhookSubscription(t.db, 'globex', d.id);
    await enqueueOutbox(t.db, [{ effectKey: 'fan:1', partyId: 'globex', event: 'step.completed', payload: { n: 1 } }]);

    failing.set('/b', 503);
    const d1 = dispatcher();
    const start = soon();
    expect(await d1.dispatchOnce(start)).toMatchObject({ failed: 1 });
    expect(received.map((r) => r.path).sort()).toEqual(['/a', '/b']);
    expect(verify(received.find((r) => r.path === '/a')!, a.secret)).toBe(true);
    expect(verify(received.find((r) => r.path === '/b')!, b.secret)).toBe(true);
    expect(verify(received.find((r) => r.path === '/b')!, a.secret)).toBe(false);
    expect(await getOutboxEntry(t.db, 'fan:1')).toMatchObject({ status: 'pending', attempts: 1, delivered_to: [a.id], last_error: `${b.id}: HTTP 503` });

    failing.clear();
    received = [];
    expect(await d1.dispatchOnce(new Date(start.getTime() + 1000))).toMatchObject({ sent: 1 });
    expect(received.map((r) => r.path)).toEqual(['/b']);
    expect(await getOutboxEntry(t.db, 'fan:1')).toMatchObject({ status: 'sent', attempts: 2 });
    expect((await getOutboxEntry(t.db, 'fan:1'))?.delivered_to.sort()).toEqual([a.id, b.id].sort());
  });

  it('when no active subscription of the party matches the event, then the row is no-endpoint (no fallback)', async () => {
    await enqueueOutbox(t.db, [{ effectKey: 'fan:2', partyId: 'globex', event: 'process.completed.other', payload: {} }]);
    await t.db.updateTable('webhook_subscriptions').set({ disabled_at: new Date() }).where('id', 'in', ['wh-a', 'wh-b']).execute();
    expect(await dispatcher().dispatchOnce(soon())).toMatchObject({ noEndpoint: 1 });
    expect(received).toEqual([]);
  });

  it('when a party has no active subscription, then the engine configuration target receives it', async () => {
    await enqueueOutbox(t.db, [{ effectKey: 'fan:3', partyId: 'dc-north', event: 'step.overdue', payload: {} }]);
    expect(await dispatcher().dispatchOnce(soon())).toMatchObject({ sent: 1 });
    expect(received.map((r) => r.path)).toEqual(['/config']);
    expect(verify(received[0]!, fallbackSecret)).toBe(true);
    expect(await getOutboxEntry(t.db, 'fan:3')).toMatchObject({ status: 'sent', delivered_to: ['config'] });
  });

  it('when a subscription secret cannot be opened, then the row fails and is retried, never sent unsigned', async () => {
    await subscribe('acme-it', '/lost', ['*'], createSecretBox([{ id: 'gone', key: randomBytes(32) }]));
    await enqueueOutbox(t.db, [{ effectKey: 'fan:4', partyId: 'acme-it', event: 'step.completed', payload: {} }]);
    expect(await dispatcher().dispatchOnce(soon())).toMatchObject({ failed: 1 });
    expect(received).toEqual([]);
    expect((await getOutboxEntry(t.db, 'fan:4'))?.last_error).toMatch(/^endpoint lookup failed: .*unknown key "gone"/);
  });
});

// A party's subscription goes to public addresses only, checked on the address the socket
// connects to: a name re-pointed to the deployment's network after registration is refused.
describe('webhook addresses at send time', () => {
  /** Resolves the given names to fixed addresses, like a DNS server would (the test machine has none). */
  const fakeDns = (names: Record<string, string[]>): Resolve => (hostname, _options, callback) => {
    const addresses = names[hostname];
    if (!addresses) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), []);
    callback(null, addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));
  };
  const guarded = (names: Record<string, string[]>) =>
    createOutboxDispatcher({
      db: t.db,
      log: quiet,
      endpointsFor: subscriptionEndpoints({ db: t.db, secretBox: box }),
      publicFetch: publicOnlyFetch({ resolve: fakeDns(names) }),
      baseDelayMs: 1000,
      maxAttempts: 3,
    });
  const port = () => new URL(base).port;

  beforeAll(async () => {
    await upsertParty(t.db, { id: 'initech', kind: 'client', name: 'Initech', timezone: 'Europe/Paris' });
  });

  it('when a subscribed name now resolves to a loopback address, then nothing is posted and the row fails saying why', async () => {
    const secret = box.seal('whsec_rebind', 'webhook:wh-rebind');
    await createWebhookSubscription(t.db, { id: 'wh-rebind', partyId: 'initech', url: `http://hooks.initech.example:${port()}/rebind`, events: ['*'], sealedSecret: secret });
    await enqueueOutbox(t.db, [{ effectKey: 'addr:1', partyId: 'initech', event: 'step.completed', payload: {} }]);
    expect(await guarded({ 'hooks.initech.example': ['127.0.0.1'] }).dispatchOnce(soon())).toMatchObject({ failed: 1 });
    expect(received).toEqual([]);
    expect((await getOutboxEntry(t.db, 'addr:1'))?.last_error).toMatch(/hooks\.initech\.example resolves to 127\.0\.0\.1, an address inside the deployment/);
  });

  it('when a subscription names an internal address literally, then it is refused before any connection', async () => {
    await t.db.updateTable('webhook_subscriptions').set({ disabled_at: new Date() }).where('party_id', '=', 'initech').execute();
    const secret = box.seal('whsec_literal', 'webhook:wh-literal');
    await createWebhookSubscription(t.db, { id: 'wh-literal', partyId: 'initech', url: `${base}/literal`, events: ['*'], sealedSecret: secret });
    await enqueueOutbox(t.db, [{ effectKey: 'addr:2', partyId: 'initech', event: 'step.completed', payload: {} }]);
    expect(await guarded({}).dispatchOnce(soon())).toMatchObject({ failed: 1 });
    expect(received).toEqual([]);
    expect((await getOutboxEntry(t.db, 'addr:2'))?.last_error).toMatch(/InternalAddressError: 127\.0\.0\.1 is an address inside the deployment/);
  });

  it('when the engine configuration target is on loopback, then it is trusted and receives the row', async () => {
    await enqueueOutbox(t.db, [{ effectKey: 'addr:3', partyId: 'dc-north', event: 'step.overdue', payload: {} }]);
    const d = createOutboxDispatcher({
      db: t.db,
      log: quiet,
      endpointsFor: subscriptionEndpoints({ db: t.db, secretBox: box, fallback: () => ({ url: `${base}/config`, secret: fallbackSecret }) }),
      publicFetch: publicOnlyFetch({ resolve: fakeDns({}) }),
    });
    expect(await d.dispatchOnce(soon())).toMatchObject({ sent: 1 });
    expect(received.map((r) => r.path)).toEqual(['/config']);
  });

  it('when a receiver redirects, then the redirect is not followed: the delivery fails with the 3xx', async () => {
    // 127.0.0.1 plays a public receiver here; 127.0.0.2, where it redirects, an internal host.
    const inside = createServer((_req, res) => {
      received.push({ path: '/inside', headers: {}, body: '' });
      res.writeHead(200).end();
    });
    await new Promise<void>((resolve) => inside.listen(0, '127.0.0.2', resolve));
    failing.set('/redirect', 307);
    const redirecting = createServer((req, res) => {
      received.push({ path: req.url ?? '', headers: req.headers, body: '' });
      res.writeHead(307, { location: `http://127.0.0.2:${(inside.address() as AddressInfo).port}/secret` }).end();
    });
    await new Promise<void>((resolve) => redirecting.listen(0, '127.0.0.1', resolve));
    try {
      await t.db.updateTable('webhook_subscriptions').set({ disabled_at: new Date() }).where('party_id', '=', 'initech').execute();
      const secret = box.seal('whsec_redirect', 'webhook:wh-redirect');
      const port = (redirecting.address() as AddressInfo).port;
      await createWebhookSubscription(t.db, { id: 'wh-redirect', partyId: 'initech', url: `http://hooks.initech.example:${port}/redirect`, events: ['*'], sealedSecret: secret });
      await enqueueOutbox(t.db, [{ effectKey: 'addr:4', partyId: 'initech', event: 'step.completed', payload: {} }]);
      const d = createOutboxDispatcher({
        db: t.db,
        log: quiet,
        endpointsFor: subscriptionEndpoints({ db: t.db, secretBox: box }),
        publicFetch: publicOnlyFetch({ resolve: fakeDns({ 'hooks.initech.example': ['127.0.0.1'] }), internal: (address) => address !== '127.0.0.1' }),
      });
      expect(await d.dispatchOnce(soon())).toMatchObject({ failed: 1 });
      expect(received.map((r) => r.path)).toEqual(['/redirect']);
      expect((await getOutboxEntry(t.db, 'addr:4'))?.last_error).toBe('HTTP 307');
    } finally {
      await new Promise<void>((resolve) => redirecting.close(() => resolve()));
      await new Promise<void>((resolve) => inside.close(() => resolve()));
    }
  });

  it('when a name has a public and an internal address, then the lookup refuses it; public addresses alone pass', async () => {
    const lookup = publicOnlyLookup(fakeDns({ mixed: ['93.184.215.14', '10.1.2.3'], public: ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'], metadata: ['169.254.169.254'], mapped: ['::ffff:127.0.0.1'] }));
    const ask = (name: string, all: boolean) =>
      new Promise<{ err: Error | null; result: unknown }>((resolve) => {
        lookup(name, { all }, (err: Error | null, address: unknown) => resolve({ err, result: address }));
      });
    expect((await ask('mixed', true)).err?.message).toMatch(/mixed resolves to 10\.1\.2\.3/);
    expect((await ask('metadata', false)).err?.message).toMatch(/169\.254\.169\.254/);
    expect((await ask('mapped', true)).err?.message).toMatch(/::ffff:127\.0\.0\.1/);
    expect(await ask('public', true)).toEqual({ err: null, result: [{ address: '93.184.215.14', family: 4 }, { address: '2606:2800:21f:cb07:6820:80da:af6b:8b2c', family: 6 }] });
    expect(await ask('public', false)).toEqual({ err: null, result: '93.184.215.14' });
    expect((await ask('nowhere', true)).err?.message).toMatch(/ENOTFOUND/);
  });
});
