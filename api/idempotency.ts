// POSTs that create something (a key, a webhook secret) run once per Idempotency-Key: the
// reservation, the work and the stored response commit together, so a retried POST gets the
// first response (201 again, with `Idempotent-Replayed: true`) and never a second key.
// An Idempotency-Key belongs to the API key that sent it and to the request it came with: the
// same value from another principal is another request, with another body it is 422.
import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';
import type { Kysely } from 'kysely';
import type { Principal } from '../db/api-keys';
import { purgeIdempotencyKeys, releaseIdempotencyKey, reserveIdempotencyKey, storeIdempotentResponse } from '../db/idempotency';
import type { Schema } from '../db/schema';
import type { SecretBox } from '../db/secret-box';
import { inTransaction } from '../db/transaction';
import { badRequest, conflict, Problem, unprocessable } from './errors';

export interface IdempotentResponse {
  status: number;
  body: unknown;
  location?: string;
}

const KEY = /^[A-Za-z0-9._:-]{1,128}$/;
const PURGE_EVERY_MS = 3_600_000;
let lastPurge = 0;

/** JSON with sorted keys: the same body hashes the same whatever its key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function send(res: Response, response: IdempotentResponse): void {
  if (response.location) res.location(response.location);
  res.status(response.status).json(response.body);
}

function requestHashOf(req: Request): string {
  return createHash('sha256').update(canonical([req.method, req.baseUrl + req.path, req.body ?? null]), 'utf8').digest('hex');
}

function validKey(key: string): string {
  if (!KEY.test(key)) throw badRequest('the Idempotency-Key header is invalid', [{ path: 'header.idempotency-key', message: 'letters, digits and . _ : - (1 to 128)' }]);
  return key;
}

const reused = () => unprocessable('idempotency-key-reused', 'Idempotency key reused', 'this Idempotency-Key was sent with another request: use a new key for a new request');

/**
 * For a POST whose effect is idempotent by itself (a process start: its business key), the
 * Idempotency-Key is claimed for this principal and this request, and nothing is replayed: the
 * same key with another request is 422. `work` gets a token naming (principal, key, request),
 * from which it derives its own idempotent identity (undefined without the header). A request
 * refused with a 4xx frees the key, as withIdempotency stores no error.
 */
export async function withClaimedIdempotencyKey<T>(db: Kysely<Schema>, ctx: { req: Request; principal: Principal }, work: (token: string | undefined) => Promise<T>): Promise<T> {
  const header = ctx.req.get('idempotency-key');
  if (header === undefined) return work(undefined);
  const claim = { keyId: ctx.principal.keyId, key: validKey(header), requestHash: requestHashOf(ctx.req) };
  const stored = await inTransaction(db, (trx) => reserveIdempotencyKey(trx, claim));
  if (stored && stored.request_hash !== claim.requestHash) throw reused();
  try {
    return await work(createHash('sha256').update(canonical([claim.keyId, claim.key, claim.requestHash]), 'utf8').digest('hex'));
  } catch (err) {
    if (err instanceof Problem && err.status >= 400 && err.status < 500) await releaseIdempotencyKey(db, claim).catch(() => undefined);
    throw err;
  }
}

/**
 * Runs `handler` in a transaction (its writes must go through the `db` it is given). With an
 * `Idempotency-Key` header, the same key and request replay the stored response and the same
 * key with another request is 422. Errors are not stored: a failed request may be retried.
 */
export async function withIdempotency(
  deps: { db: Kysely<Schema>; secretBox: SecretBox },
  ctx: { req: Request; res: Response; principal: Principal },
  handler: (db: Kysely<Schema>) => Promise<IdempotentResponse>,
): Promise<void> {
  const { req, res, principal } = ctx;
  const key = req.get('idempotency-key');
  if (key === undefined) {
    send(res, await inTransaction(deps.db, handler));
    return;
  }
  validKey(key);
  const requestHash = requestHashOf(req);
  const context = `idempotency:${principal.keyId}:${key}`;
  // Responses past retention (they may hold sealed keys) go now and then, off the request path.
  if (Date.now() - lastPurge > PURGE_EVERY_MS) {
    lastPurge = Date.now();
    void purgeIdempotencyKeys(deps.db).catch(() => undefined);
  }

  const outcome = await inTransaction(deps.db, async (trx) => {
    const stored = await reserveIdempotencyKey(trx, { keyId: principal.keyId, key, requestHash });
    if (stored) {
      if (stored.request_hash !== requestHash) {
        throw reused();
      }
      let saved: { body: unknown; location?: string };
      try {
        saved = JSON.parse(deps.secretBox.open(stored.response_body ?? '', context)) as { body: unknown; location?: string };
      } catch {
        throw conflict('the response to this Idempotency-Key can no longer be replayed (the keys that sealed it are gone)');
      }
      return { replayed: true, response: { status: stored.response_status ?? 200, ...saved } };
    }
    const response = await handler(trx);
    const sealedBody = deps.secretBox.seal(JSON.stringify({ body: response.body, location: response.location }), context);
    await storeIdempotentResponse(trx, { keyId: principal.keyId, key, status: response.status, sealedBody });
    return { replayed: false, response };
  });
  if (outcome.replayed) res.set('idempotent-replayed', 'true');
  send(res, outcome.response);
}
