// Sends the outbox as signed webhooks: retries with backoff, parks what keeps failing.
import { createHmac } from 'node:crypto';
import type { Kysely } from 'kysely';
import { claimDueOutbox, markNoEndpoint, markOutboxFailed, markOutboxSent, parkOutbox } from '../db/outbox';
import type { OutboxRow, Schema } from '../db/schema';
import type { SecretBox } from '../db/secret-box';
import { activeWebhookSubscriptions, eventMatches, recordDeliveries } from '../db/webhooks';
import { publicOnlyFetch } from './webhook-address';

export interface WebhookEndpoint {
  /** Names the endpoint in `outbox.delivered_to`: a subscription id, or `config`. */
  id?: string;
  url: string;
  secret: string;
  /** A party's own subscription: sent only to public addresses (worker/webhook-address.ts). */
  publicOnly?: boolean;
}

type NamedEndpoint = WebhookEndpoint & { id: string };

export interface DispatcherLog {
  debug?(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface OutboxDispatcherOptions {
  db: Kysely<Schema>;
  /**
   * Every endpoint a party's notification of `event` goes to. A row is sent once each of them
   * answered 2xx; a retry goes only to the ones that have not (`outbox.delivered_to`).
   */
  endpointsFor?: (partyId: string, event: string) => WebhookEndpoint[] | Promise<WebhookEndpoint[]>;
  /** One endpoint per party, whatever the event (kept for simple set-ups and tests). */
  endpointFor?: (partyId: string) => WebhookEndpoint | undefined | Promise<WebhookEndpoint | undefined>;
  log: DispatcherLog;
  fetchImpl?: typeof fetch;
  /** What sends to a `publicOnly` endpoint; by default a fetch that refuses internal addresses. */
  publicFetch?: typeof fetch;
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  pollMs?: number;
  /** Rows taken per round; all of them are sent concurrently. */
  batchSize?: number;
  requestTimeoutMs?: number;
}

export interface DispatchResult {
  sent: number;
  failed: number;
  parked: number;
  noEndpoint: number;
}

export interface OutboxDispatcher {
  dispatchOnce(now?: Date): Promise<DispatchResult>;
  start(): void;
  stop(): Promise<void>;
}

/** `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`: what a receiver checks. */
export function signWebhook(secret: string, body: string, unixSeconds: number): string {
  const v1 = createHmac('sha256', secret).update(`${unixSeconds}.${body}`, 'utf8').digest('hex');
  return `t=${unixSeconds},v1=${v1}`;
}

/** The delay before the next try after `attempts` failed ones (0 for the first failure). */
export function backoffDelayMs(attempts: number, baseDelayMs: number, maxDelayMs: number): number {
  return Math.min(baseDelayMs * 2 ** attempts, maxDelayMs);
}

/**
 * The lookup the launcher uses: the party's active subscriptions whose events match; a party
 * with no active subscription at all falls back to the engine configuration's target (`config`).
 */
export function subscriptionEndpoints(options: {
  db: Kysely<Schema>;
  secretBox: SecretBox;
  fallback?: (partyId: string) => Omit<WebhookEndpoint, 'id'> | undefined;
  /** Lets subscriptions reach internal addresses: for tests whose receiver is on 127.0.0.1. */
  allowInternalAddresses?: boolean;
}): (partyId: string, event: string) => Promise<WebhookEndpoint[]> {
  return async (partyId, event) => {
    const subscriptions = await activeWebhookSubscriptions(options.db, partyId);
    if (subscriptions.length === 0) {
      const target = options.fallback?.(partyId);
      return target ? [{ ...target, id: 'config' }] : [];
    }
    return subscriptions
      .filter((s) => eventMatches(s.events, event))
      .map((s) => ({ id: s.id, url: s.url, secret: options.secretBox.open(s.secret, `webhook:${s.id}`), publicOnly: options.allowInternalAddresses !== true }));
  };
}

export function createOutboxDispatcher(options: OutboxDispatcherOptions): OutboxDispatcher {
  const {
    db,
    endpointFor,
    endpointsFor,
    log,
    fetchImpl = fetch,
    publicFetch = publicOnlyFetch(),
    maxAttempts = 8,
    baseDelayMs = 1000,
    maxDelayMs = 300_000,
    pollMs = 1000,
    batchSize = 20,
    requestTimeoutMs = 10_000,
  } = options;
  // Longer than one round (all sends run at once, each bounded by the timeout).
  const leaseMs = Math.max(60_000, requestTimeoutMs * 3);

  async function lookup(row: OutboxRow): Promise<NamedEndpoint[]> {
    if (endpointsFor) return (await endpointsFor(row.party_id, row.event)).map((e, i) => ({ ...e, id: e.id ?? `endpoint-${i}` }));
    const endpoint = await endpointFor?.(row.party_id);
    return endpoint ? [{ ...endpoint, id: endpoint.id ?? 'default' }] : [];
  }

  async function deliver(row: OutboxRow, now: Date): Promise<keyof DispatchResult> {
    let endpoints: NamedEndpoint[];
    try {
      endpoints = await lookup(row);
    } catch (err) {
      // E.g. a subscription whose secret no configured key opens: a failure, retried later.
      return fail(row, now, `endpoint lookup failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (endpoints.length === 0) {
      await markNoEndpoint(db, row.id);
      log.debug?.({ outboxId: row.id, partyId: row.party_id, event: row.event }, 'no webhook endpoint for party');
      return 'noEndpoint';
    }
    const body = JSON.stringify({
      id: row.effect_key,
      event: row.event,
      partyId: row.party_id,
      payload: row.payload,
      createdAt: row.created_at.toISOString(),
    });
    const due = endpoints.filter((e) => !row.delivered_to.includes(e.id));
    const outcomes = await Promise.all(due.map(async (e) => ({ id: e.id, error: await post(e, row, body) })));
    await recordDeliveries(db, row.id, outcomes.filter((o) => o.error === undefined).map((o) => o.id));
    const failures = outcomes.filter((o): o is { id: string; error: string } => o.error !== undefined);
    if (failures.length === 0) {
      await markOutboxSent(db, row.id, new Date());
      log.info({ outboxId: row.id, partyId: row.party_id, event: row.event, endpoints: endpoints.length, attempts: row.attempts + 1 }, 'webhook sent');
      return 'sent';
    }
    return fail(row, now, endpoints.length === 1 ? failures[0]!.error : failures.map((f) => `${f.id}: ${f.error}`).join('; '));
  }

  async function fail(row: OutboxRow, now: Date, error: string): Promise<keyof DispatchResult> {
    const attempts = row.attempts + 1;
    if (attempts >= maxAttempts) {
      await parkOutbox(db, row.id, { error });
      log.warn({ outboxId: row.id, partyId: row.party_id, event: row.event, attempts, error }, 'webhook parked');
      return 'parked';
    }
    const nextAttemptAt = new Date(now.getTime() + backoffDelayMs(row.attempts, baseDelayMs, maxDelayMs));
    await markOutboxFailed(db, row.id, { error, nextAttemptAt });
    log.warn({ outboxId: row.id, partyId: row.party_id, event: row.event, attempts, error, nextAttemptAt }, 'webhook failed');
    return 'failed';
  }

  /** Undefined when delivered, else why not (no secret, no payload, no response body). */
  async function post(endpoint: WebhookEndpoint, row: OutboxRow, body: string): Promise<string | undefined> {
    try {
      const send = endpoint.publicOnly ? publicFetch : fetchImpl;
      const response = await send(endpoint.url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'Mandate-Event': row.event,
          'Mandate-Delivery': row.effect_key,
          // Wall-clock time, whatever `now` says: the receiver checks it against its own clock.
          'Mandate-Signature': signWebhook(endpoint.secret, body, Math.floor(Date.now() / 1000)),
        },
        body,
        signal: AbortSignal.timeout(requestTimeoutMs),
      });
      await response.body?.cancel().catch(() => undefined);
      return response.ok ? undefined : `HTTP ${response.status}`;
    } catch (error) {
      if (!(error instanceof Error)) return 'request failed';
      // fetch says "fetch failed" and keeps the reason (refused address, DNS, TLS) in `cause`.
      const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
      return `${error.name}: ${error.message}${cause}`;
    }
  }

  async function dispatchOnce(now: Date = new Date()): Promise<DispatchResult> {
    const result: DispatchResult = { sent: 0, failed: 0, parked: 0, noEndpoint: 0 };
    const rows = await claimDueOutbox(db, { now, limit: batchSize, leaseMs });
    const outcomes = await Promise.all(rows.map((row) => deliver(row, now)));
    for (const outcome of outcomes) result[outcome] += 1;
    return result;
  }

  let running: Promise<void> | undefined;
  let stopping = false;
  let wake: (() => void) | undefined;

  async function loop(): Promise<void> {
    while (!stopping) {
      let busy = false;
      try {
        const result = await dispatchOnce();
        busy = result.sent + result.failed + result.parked + result.noEndpoint >= batchSize;
      } catch (error) {
        log.error({ err: error instanceof Error ? { name: error.name, message: error.message } : String(error) }, 'outbox round failed');
      }
      // A full batch means more is due: go again at once.
      if (!busy && !stopping) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, pollMs);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
      }
    }
  }

  return {
    dispatchOnce,
    start() {
      if (running) return;
      stopping = false;
      running = loop();
    },
    async stop() {
      stopping = true;
      wake?.();
      await running;
      running = undefined;
    },
  };
}
