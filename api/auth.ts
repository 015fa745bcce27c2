// API keys: a Bearer key of one user or agent of one party, with roles. Only its
// SHA-256 is stored; the principal is what every route authorizes against.
import { timingSafeEqual } from 'node:crypto';
import type { RequestHandler, Request } from 'express';
import type { Kysely } from 'kysely';
import type { Schema } from '../db/schema';
import { findPrincipalByHash, findPrincipalByKey, hashApiKey, isWellFormedKey, recordKeyUse, type Principal } from '../db/api-keys';
import { findProviderParty } from '../db/parties';
import { unauthorized } from './errors';
import type { PrincipalCache } from './principal-cache';

declare module 'express-serve-static-core' {
  interface Request {
    id: string;
    principal?: Principal;
  }
}

export interface AuthOptions {
  /** MANDATE_ADMIN_KEY: accepted as an admin of the deployment's provider party. */
  adminKey?: string | undefined;
  /** Principals kept in memory while key changes are heard (api/principal-cache.ts). */
  principalCache?: PrincipalCache | undefined;
}

/** The key id the bootstrap admin acts under (idempotency keys, logs). */
export const BOOTSTRAP_KEY_ID = 'bootstrap-admin';

export function authenticate(db: Kysely<Schema>, options: AuthOptions = {}): RequestHandler {
  // Only the hash is kept: both sides are 32 bytes, so the comparison is constant-time.
  const adminHash = options.adminKey ? Buffer.from(hashApiKey(options.adminKey), 'hex') : undefined;
  return async (req, _res, next) => {
    const header = req.get('authorization') ?? '';
    // A signed request without a key (monitoring alerts): its route checks the signature;
    // every other route still answers 401, since it needs a principal.
    if (header === '' && req.get('mandate-signature') !== undefined) {
      next();
      return;
    }
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match?.[1]) throw unauthorized();
    if (adminHash && timingSafeEqual(Buffer.from(hashApiKey(match[1]), 'hex'), adminHash)) {
      req.principal = await bootstrapPrincipal(db);
      next();
      return;
    }
    const principal = await findPrincipal(db, match[1], options.principalCache);
    if (!principal) throw unauthorized('the API key is unknown or revoked, or its holder no longer holds any of its roles');
    req.principal = principal;
    next();
  };
}

async function findPrincipal(db: Kysely<Schema>, clearKey: string, cache: PrincipalCache | undefined): Promise<Principal | undefined> {
  if (!cache) return findPrincipalByKey(db, clearKey);
  if (!isWellFormedKey(clearKey)) return undefined;
  const secretHash = hashApiKey(clearKey);
  const principal = await cache.through(secretHash, () => findPrincipalByHash(db, secretHash));
  if (principal) await recordKeyUse(db, principal.keyId);
  return principal;
}

/** Before the provider party exists its partyId is empty: it sees nothing but may create parties. */
async function bootstrapPrincipal(db: Kysely<Schema>): Promise<Principal> {
  const provider = await findProviderParty(db);
  return { keyId: BOOTSTRAP_KEY_ID, partyId: provider?.id ?? '', partyKind: 'provider', roles: ['admin'], bootstrap: true };
}

export function principalOf(req: Request): Principal {
  if (!req.principal) throw unauthorized();
  return req.principal;
}
