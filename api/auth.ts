// API keys: a Bearer key of one user or agent of one party, with roles. Only its
// SHA-256 is stored; the principal is what every route authorizes against.
import type { RequestHandler, Request } from 'express';
import type { Kysely } from 'kysely';
import type { Schema } from '../db/schema';
import { findPrincipalByKey, type Principal } from '../db/api-keys';
import { unauthorized } from './errors';

declare module 'express-serve-static-core' {
  interface Request {
    id: string;
    principal?: Principal;
  }
}

export function authenticate(db: Kysely<Schema>): RequestHandler {
  return async (req, _res, next) => {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match?.[1]) throw unauthorized();
    const principal = await findPrincipalByKey(db, match[1]);
    if (!principal) throw unauthorized('the API key is unknown or revoked');
    req.principal = principal;
    next();
  };
}

export function principalOf(req: Request): Principal {
  if (!req.principal) throw unauthorized();
  return req.principal;
}
