// What lets a party check the provider instead of trusting it (docs/ARCHITECTURE.md "Trust
// boundaries"): the Ed25519 public keys its own admins register for its users (its approvals
// are then signed with keys the provider never holds), and the head of each process's journal
// chain, its witness.
import type { Router } from 'express';
import { z } from 'zod';
import type { Principal } from '../../db/api-keys';
import { getUser } from '../../db/parties';
import { getSigningKeyByPublicKey, journalHead, listSigningKeys, partiesOfProcess, registerSigningKey, revokeSigningKey } from '../../db/signing-keys';
import type { SigningKeyRow } from '../../db/schema';
import { isPublicKey } from '../../domain/signatures';
import type { ApiDeps } from '../app';
import { conflict, forbiddenAction, notFound, unprocessable } from '../errors';
import type { ApiSpec } from '../spec';

const PartyParams = z.object({ partyId: z.string().min(1).max(200) });
const UserKeyParams = z.object({ partyId: z.string().min(1).max(200), userId: z.string().min(1).max(200) });
const KeyParams = z.object({ partyId: z.string().min(1).max(200), keyId: z.string().min(1).max(200) });
const ProcessParams = z.object({ processId: z.string().min(1).max(500) });

const RegisterSigningKey = z
  .object({
    publicKey: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, 'expected a 32-byte Ed25519 public key in hex')
      .openapi({ description: 'The Ed25519 public key (32 bytes, hex) whose secret key the user alone holds (`mandate keygen`).' }),
    label: z.string().min(1).max(200).optional(),
  })
  .strict()
  .openapi('RegisterSigningKey');

const SigningKeyView = z
  .object({
    id: z.string(),
    partyId: z.string(),
    userId: z.string(),
    publicKey: z.string(),
    label: z.string().nullable(),
    registeredBy: z.string(),
    createdAt: z.string(),
    revokedAt: z.string().nullable(),
  })
  .openapi('SigningKey');
const SigningKeyList = z.object({ items: z.array(SigningKeyView) }).openapi('SigningKeyList');
const JournalHeadView = z
  .object({ processId: z.string(), seq: z.number().int(), hash: z.string(), at: z.string() })
  .openapi('JournalHead', { description: "The last entry of the process's hash chain: keep it, and any later rewrite of the journal shows." });

function view(row: SigningKeyRow) {
  return {
    id: row.id,
    partyId: row.party_id,
    userId: row.user_id,
    publicKey: row.public_key,
    label: row.label,
    registeredBy: row.registered_by,
    createdAt: new Date(row.created_at).toISOString(),
    revokedAt: row.revoked_at ? new Date(row.revoked_at).toISOString() : null,
  };
}

/** Only the party's own admins: a provider admin administers its own party's keys, never a client's. */
function ownAdmin(principal: Principal, partyId: string): string {
  if (principal.partyId !== partyId) throw notFound(`party ${partyId}`);
  if (!principal.userId || !principal.roles.includes('admin')) throw forbiddenAction("only the party's own admins register or revoke its users' signing keys");
  return principal.userId;
}

export function signingKeyRoutes(deps: ApiDeps, spec: ApiSpec, router: Router): void {
  const { db } = deps;

  spec.route(
    router,
    {
      method: 'post',
      path: '/parties/{partyId}/users/{userId}/signing-keys',
      summary: "Register a user's public signing key (the party's own admins only)",
      description:
        'From then on every approval of the party is signed by the approver with an unrevoked key of its own (`clientSignature`), verified by the process; the provider, which runs the API, cannot make such a signature. Revoking every key does not lift the requirement.',
      tags: ['administration'],
      params: UserKeyParams,
      body: RegisterSigningKey,
      responses: {
        201: { description: 'Registered', schema: SigningKeyView },
        403: { description: "Not an admin of that party (another party's admins, the provider's included, never register a party's keys)" },
        409: { description: 'That public key is registered already' },
        422: { description: 'Not a user of the party, or not a valid Ed25519 public key' },
      },
    },
    async ({ res, params, body, principal }) => {
      const by = ownAdmin(principal, params.partyId);
      const user = await getUser(db, params.userId);
      if (!user || user.party_id !== params.partyId) {
        throw unprocessable('invalid-user', 'Invalid user', `${params.userId} is not a user of party ${params.partyId}`, { errors: [{ path: 'params.userId', message: 'not a user of this party' }] });
      }
      if (!isPublicKey(body.publicKey)) {
        throw unprocessable('invalid-public-key', 'Invalid public key', 'the key is not a point of Ed25519', { errors: [{ path: 'body.publicKey', message: 'not a valid Ed25519 public key' }] });
      }
      if (await getSigningKeyByPublicKey(db, body.publicKey)) throw conflict('this public key is registered already');
      const row = await registerSigningKey(db, { partyId: params.partyId, userId: params.userId, publicKey: body.publicKey, label: body.label, registeredBy: by });
      res.status(201).location(`/v1/parties/${params.partyId}/signing-keys/${row.id}`).json(view(row));
    },
  );

  spec.route(
    router,
    {
      method: 'get',
      path: '/parties/{partyId}/signing-keys',
      summary: "The party's registered signing keys (revoked ones included)",
      tags: ['administration'],
      params: PartyParams,
      responses: { 200: { description: 'Keys, oldest first', schema: SigningKeyList } },
    },
    async ({ res, params, principal }) => {
      if (principal.partyId !== params.partyId) throw notFound(`party ${params.partyId}`);
      res.json({ items: (await listSigningKeys(db, params.partyId)).map(view) });
    },
  );

  spec.route(
    router,
    {
      method: 'delete',
      path: '/parties/{partyId}/signing-keys/{keyId}',
      summary: 'Revoke a signing key (the party\'s own admins only)',
      description: 'It signs nothing from then on; signatures it made stay checkable in the journal.',
      tags: ['administration'],
      params: KeyParams,
      responses: { 204: { description: 'Revoked' }, 403: { description: 'Not an admin of that party' }, 404: { description: 'No such unrevoked key of the party' } },
    },
    async ({ res, params, principal }) => {
      const by = ownAdmin(principal, params.partyId);
      if (!(await revokeSigningKey(db, { partyId: params.partyId, keyId: params.keyId, revokedBy: by }))) throw notFound(`signing key ${params.keyId}`);
      res.status(204).end();
    },
  );

  spec.route(
    router,
    {
      method: 'get',
      path: '/processes/{processId}/journal/head',
      summary: "The head of a process's journal chain (parties holding a role in it)",
      description: 'Each party keeps it as a witness; at the end of the process it is also sent to each of them (`process.journal-head`).',
      tags: ['processes'],
      params: ProcessParams,
      responses: { 200: { description: 'The head', schema: JournalHeadView } },
    },
    async ({ res, params, principal }) => {
      const parties = await partiesOfProcess(db, params.processId);
      if (!parties.includes(principal.partyId)) throw notFound(`process ${params.processId}`);
      const head = await journalHead(db, params.processId);
      if (!head) throw notFound(`journal of process ${params.processId}`);
      res.json(head);
    },
  );
}
