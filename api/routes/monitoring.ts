// Monitoring alerts open incidents (POST /v1/contracts/{contractId}/monitoring/alerts).
// Two ways in: a body signed with the contract's monitoring secret (`Mandate-Signature`,
// like Mandate's own webhooks), or an API key of the provider's monitoring agent.
import type { IncomingMessage } from 'node:http';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Router } from 'express';
import { z } from 'zod';
import type { Principal } from '../../db/api-keys';
import { getContract } from '../../db/contracts';
import type { ApiDeps } from '../app';
import { maySendAlert } from '../../domain/authorization';
import { conflict, notFound, unauthorized } from '../errors';
import type { ApiSpec } from '../spec';
import { ProcessView } from '../schemas';
import { authorize } from '../services/authorize';
import { alertNonce, receiveAlert, SIGNATURE_TOLERANCE_S, signedAt, verifySignature, type AlertSender } from '../services/incidents';
import { claimAlertNonce, pruneAlertNonces, recordAlertNonceProcess, releaseAlertNonce } from '../../db/alert-nonces';
import { alertReplayedSignal, type AlertReplay } from '../../workflows/definitions';
import { processView } from '../views';

declare module 'express-serve-static-core' {
  interface Request {
    /** The body as received, kept for signed requests only (see keepRawBody). */
    rawBody?: Buffer;
  }
}

/** express.json's `verify`: keeps the raw bytes of a signed request, since the signature covers them. */
export function keepRawBody(req: IncomingMessage, _res: unknown, buf: Buffer): void {
  if (req.headers['mandate-signature'] !== undefined) (req as IncomingMessage & { rawBody?: Buffer }).rawBody = buf;
}

const AlertKey = z.string().regex(/^[A-Za-z0-9._:-]{1,100}$/, 'letters, digits and . _ : - (1 to 100)');
const AlertBody = z
  .object({
    alertKey: AlertKey.openapi({ description: 'What the alert is about, stable across repeats (e.g. `disk-full:srv-erp-01`): repeats while its incident is open are added to it.', example: 'disk-full:srv-erp-01' }),
    title: z.string().min(1).max(200),
    description: z.string().max(5000).optional(),
    priority: z.enum(['P1', 'P2', 'P3', 'P4']).optional().openapi({ description: "The monitoring's severity as a priority; triage sets the one that counts." }),
    asset: z.string().regex(/^[a-z0-9][a-z0-9-]*$/).optional().openapi({ description: "An asset of the contract's scope." }),
    id: z
      .string()
      .regex(/^[A-Za-z0-9._:-]{1,200}$/, 'letters, digits and . _ : - (1 to 200)')
      .optional()
      .openapi({ description: "The monitoring system's id of this alert. A signed alert is accepted once per id within the signature's window (without an id: once per signed timestamp and body); a replay is 409 and journaled." }),
  })
  .strict()
  .openapi('MonitoringAlert');
const ContractParams = z.object({ contractId: z.string().min(1) });

export function monitoringRoutes(deps: ApiDeps, spec: ApiSpec, router: Router): void {
  spec.route(
    router,
    {
      method: 'post',
      path: '/contracts/{contractId}/monitoring/alerts',
      summary: 'Report a monitoring alert: opens an incident, or adds a repeat to the open one',
      description:
        'Authenticated either by `Mandate-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "t.body")>` over the raw body, with a secret of the contract ' +
        '(engine configuration `monitoring.<contractId>.secretEnv`; the timestamp within 5 minutes), or by an API key of an agent of the provider. ' +
        'The alert key is the incident\'s business key: 201 opens an incident, 200 adds the alert to the running one (journaled and counted); once it ended, a new alert opens `<alertKey>#2`, then `#3`.',
      tags: ['monitoring'],
      public: true,
      params: ContractParams,
      body: AlertBody,
      headers: z.object({ 'mandate-signature': z.string().optional().openapi({ example: 't=1767225600,v1=5f…' }) }),
      responses: {
        201: { description: 'An incident was opened', schema: ProcessView },
        200: { description: 'Added to the open incident of this alert key', schema: ProcessView },
        401: { description: 'Neither a valid signature nor an API key' },
        403: { description: 'The key is not an agent key of the provider' },
        409: { description: 'A replay: this signed alert (its id, or its signed timestamp and body) was received already within its window; journaled in its incident' },
        422: { description: 'Contract not active, or not covering incidents' },
        503: { description: 'The incident was closing: send the alert again' },
      },
    },
    async ({ req, res, params, body }) => {
      const sender = await authenticateAlert(deps, req.principal, params.contractId, req.get('mandate-signature'), req.rawBody);
      // A signed alert is accepted once: its nonce is claimed before anything runs (issue 12 point 10).
      const once = sender.via === 'signature' ? await acceptOnce(deps, params.contractId, body, req.get('mandate-signature'), req.rawBody, req.ip) : undefined;
      let received: Awaited<ReturnType<typeof receiveAlert>>;
      try {
        received = await receiveAlert(deps, params.contractId, body, sender);
      } catch (err) {
        // Nothing reached an incident: the same signed alert may be sent again.
        if (once) await releaseAlertNonce(deps.db, once).catch(() => undefined);
        throw err;
      }
      const { process, created } = received;
      if (once) await recordAlertNonceProcess(deps.db, { ...once, processId: process.id });
      res.status(created ? 201 : 200).location(`/v1/processes/${encodeURIComponent(process.id)}`).json(processView(process));
    },
  );
}

/**
 * Claims the signed alert's nonce for its window (in PostgreSQL: every API node sees it). A
 * replay is refused with 409 and journaled in the incident the first delivery reached.
 */
async function acceptOnce(deps: ApiDeps, contractId: string, alert: { alertKey: string; id?: string }, signature: string | undefined, rawBody: Buffer | undefined, from: string | undefined): Promise<{ contractId: string; nonce: string }> {
  const t = signedAt(signature);
  if (t === undefined || !rawBody) throw unauthorized('the Mandate-Signature is missing, expired or does not match a monitoring secret of this contract');
  const nonce = alertNonce(alert.id, t, rawBody);
  // Remembered until the signature's window has passed for both the signed time and now.
  const expiresAt = new Date((Math.max(t, Math.floor(Date.now() / 1000)) + SIGNATURE_TOLERANCE_S + 1) * 1000);
  void pruneAlertNonces(deps.db).catch(() => undefined);
  const claim = await claimAlertNonce(deps.db, { contractId, nonce, expiresAt });
  if (claim.fresh) return { contractId, nonce };
  const replay: AlertReplay = { alertKey: alert.alertKey, nonce, firstReceivedAt: claim.receivedAt.toISOString(), receivedAt: new Date().toISOString(), ...(from !== undefined && { from }) };
  deps.log.warn({ contractId, ...replay, processId: claim.processId }, 'a signed monitoring alert was replayed: refused');
  if (claim.processId) {
    await deps.temporal.client.workflow
      .getHandle(claim.processId)
      .signal(alertReplayedSignal, replay)
      .catch((err: unknown) => {
        if (!(err instanceof WorkflowNotFoundError)) deps.log.warn({ err: (err as Error).message, processId: claim.processId }, 'the replay could not be journaled in its incident');
      });
  }
  throw conflict(`this signed alert was received already at ${replay.firstReceivedAt}: a signed alert is accepted once${alert.id !== undefined ? ' per id' : ''} within its ${SIGNATURE_TOLERANCE_S} s window`, {
    replay: true,
    ...(claim.processId !== null && { processId: claim.processId }),
  });
}

async function authenticateAlert(deps: ApiDeps, principal: Principal | undefined, contractId: string, signature: string | undefined, rawBody: Buffer | undefined): Promise<AlertSender> {
  const contract = await getContract(deps.db, contractId);
  if (principal) {
    if (!contract || !contract.party_ids.includes(principal.partyId)) throw notFound(`contract ${contractId}`);
    authorize(maySendAlert({ actor: principal, contract: { providerId: contract.provider_id } }));
    return { via: `agent:${principal.agentId!}`, requestedBy: { userId: `agent:${principal.agentId}`, partyId: principal.partyId } };
  }
  // An unknown contract has no secret: 401 like a wrong signature, so existence never leaks.
  const secrets = contract ? (deps.monitoringSecrets?.(contractId) ?? []) : [];
  if (!contract || !verifySignature(signature, rawBody, secrets, Math.floor(Date.now() / 1000))) {
    throw unauthorized('the Mandate-Signature is missing, expired or does not match a monitoring secret of this contract');
  }
  return { via: 'signature', requestedBy: { userId: 'monitoring', partyId: contract.provider_id } };
}
