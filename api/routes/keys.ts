// API keys of a party's users and agents: issued once in clear, listed by prefix, revoked.
import type { Router } from 'express';
import { getApiKey, listApiKeysPage, revokeApiKey } from '../../db/api-keys';
import { ephemeralSecretBox } from '../../db/secret-box';
import type { ApiDeps } from '../app';
import { notFound } from '../errors';
import { withIdempotency } from '../idempotency';
import type { ApiSpec } from '../spec';
import { ApiKeyPage, IdempotencyHeader, IssueApiKey, IssuedApiKey, KeyParams, PageQuery, PartyParams } from '../schemas/admin';
import { mayGrantRoles } from '../../domain/authorization';
import { authorize } from '../services/authorize';
import { addApiKey, administeredParty, apiKeyView, decodeCreatedCursor } from '../services/admin';
import { encodeCursor } from '../views';

export function keyRoutes(deps: ApiDeps, spec: ApiSpec, router: Router): void {
  const { db } = deps;
  // Without configured keys, replayable responses live only as long as this process.
  const secretBox = deps.secretBox ?? ephemeralSecretBox();

  spec.route(
    router,
    {
      method: 'post',
      path: '/parties/{partyId}/keys',
      summary: 'Issue an API key to a user or an agent of the party',
      description: "The key is in the answer once; afterwards only its prefix is shown. Its roles are a subset of the holder's (an agent's key: `agent`). Send an `Idempotency-Key` so a retry returns the same key instead of a second one.",
      tags: ['administration'],
      params: PartyParams,
      body: IssueApiKey,
      headers: IdempotencyHeader,
      responses: {
        201: { description: 'Issued', schema: IssuedApiKey },
        403: { description: 'Not an admin of that party' },
        422: { description: 'Unknown holder, roles the holder does not have, or an Idempotency-Key reused with another body' },
      },
    },
    async ({ req, res, params, body, principal }) => {
      await administeredParty(db, principal, params.partyId);
      // A key that signs for a party is issued by that party's own admins only.
      authorize(mayGrantRoles({ actor: principal, partyId: params.partyId, roles: body.roles }));
      await withIdempotency({ db, secretBox }, { req, res, principal }, async (trx) => {
        const issued = await addApiKey(trx, params.partyId, body);
        return { status: 201, body: issued, location: `/v1/parties/${params.partyId}/keys/${issued.id}` };
      });
    },
  );

  spec.route(
    router,
    {
      method: 'get',
      path: '/parties/{partyId}/keys',
      summary: "A party's API keys (prefix, holder, roles, use, revocation; never the key)",
      tags: ['administration'],
      params: PartyParams,
      query: PageQuery,
      responses: { 200: { description: 'A page of keys, oldest first', schema: ApiKeyPage }, 403: { description: 'Not an admin of that party' } },
    },
    async ({ res, params, query, principal }) => {
      await administeredParty(db, principal, params.partyId);
      const after = query.after === undefined ? undefined : decodeCreatedCursor(query.after);
      const page = await listApiKeysPage(db, params.partyId, { limit: query.limit, after });
      const last = page.keys.at(-1);
      res.json({ items: page.keys.map(apiKeyView), next: page.more && last ? encodeCursor([last.created_key, last.id]) : null });
    },
  );

  spec.route(
    router,
    {
      method: 'delete',
      path: '/parties/{partyId}/keys/{keyId}',
      summary: 'Revoke an API key',
      description: 'Takes effect at once (the next request with it is 401). Revoking a revoked key is 204 again.',
      tags: ['administration'],
      params: KeyParams,
      responses: { 204: { description: 'Revoked' }, 403: { description: 'Not an admin of that party' } },
    },
    async ({ res, params, principal }) => {
      await administeredParty(db, principal, params.partyId);
      if (!(await getApiKey(db, params.partyId, params.keyId))) throw notFound(`key ${params.keyId}`);
      await revokeApiKey(db, params.keyId, { partyId: params.partyId });
      // This node forgets it now; the others when the database's notification reaches them.
      deps.principalCache?.onNotify(params.keyId);
      res.status(204).end();
    },
  );
}
