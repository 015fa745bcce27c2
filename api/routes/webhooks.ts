// A party's webhook subscriptions: where the outbox dispatcher sends its notifications.
import type { Router } from 'express';
import { disableWebhookSubscription, getWebhookSubscription, listWebhookSubscriptionsPage } from '../../db/webhooks';
import type { ApiDeps } from '../app';
import { notFound, Problem } from '../errors';
import { withIdempotency } from '../idempotency';
import type { ApiSpec } from '../spec';
import { CreatedWebhook, CreateWebhook, IdempotencyHeader, PageQuery, PartyParams, WebhookPage, WebhookParams } from '../schemas/admin';
import { addWebhook, administeredParty, decodeCreatedCursor, webhookView } from '../services/admin';
import { encodeCursor } from '../views';

export function webhookRoutes(deps: ApiDeps, spec: ApiSpec, router: Router): void {
  const { db } = deps;

  spec.route(
    router,
    {
      method: 'post',
      path: '/parties/{partyId}/webhooks',
      summary: 'Subscribe an HTTPS endpoint to events of the party',
      description:
        'Events: a name (`step.completed`, `step.overdue`, `task.opened`…), a prefix (`step.*`) or `*`. The answer holds the signing secret once. ' +
        "A party's subscriptions replace the engine configuration's webhook for that party. Send an `Idempotency-Key` so a retry does not subscribe twice.",
      tags: ['administration'],
      params: PartyParams,
      body: CreateWebhook,
      headers: IdempotencyHeader,
      responses: {
        201: { description: 'Subscribed', schema: CreatedWebhook },
        403: { description: 'Not an admin of that party' },
        422: { description: 'An Idempotency-Key reused with another body' },
        503: { description: 'No key to seal secrets is configured' },
      },
    },
    async ({ req, res, params, body, principal }) => {
      await administeredParty(db, principal, params.partyId);
      const secretBox = deps.secretBox;
      if (!secretBox) throw new Problem(503, 'not-configured', 'Not configured', 'webhook subscriptions need the deployment keys that seal their secrets');
      await withIdempotency({ db, secretBox }, { req, res, principal }, async (trx) => {
        const created = await addWebhook(trx, secretBox, params.partyId, body);
        return { status: 201, body: created, location: `/v1/parties/${params.partyId}/webhooks/${created.id}` };
      });
    },
  );

  spec.route(
    router,
    {
      method: 'get',
      path: '/parties/{partyId}/webhooks',
      summary: "A party's webhook subscriptions (never their secrets)",
      tags: ['administration'],
      params: PartyParams,
      query: PageQuery,
      responses: { 200: { description: 'A page of subscriptions, oldest first', schema: WebhookPage }, 403: { description: 'Not an admin of that party' } },
    },
    async ({ res, params, query, principal }) => {
      await administeredParty(db, principal, params.partyId);
      const after = query.after === undefined ? undefined : decodeCreatedCursor(query.after);
      const page = await listWebhookSubscriptionsPage(db, params.partyId, { limit: query.limit, after });
      const last = page.subscriptions.at(-1);
      res.json({ items: page.subscriptions.map(webhookView), next: page.more && last ? encodeCursor([last.created_key, last.id]) : null });
    },
  );

  spec.route(
    router,
    {
      method: 'delete',
      path: '/parties/{partyId}/webhooks/{webhookId}',
      summary: 'Disable a webhook subscription',
      description: 'Nothing more is sent to it; disabling it again is 204.',
      tags: ['administration'],
      params: WebhookParams,
      responses: { 204: { description: 'Disabled' }, 403: { description: 'Not an admin of that party' } },
    },
    async ({ res, params, principal }) => {
      await administeredParty(db, principal, params.partyId);
      if (!(await getWebhookSubscription(db, params.partyId, params.webhookId))) throw notFound(`webhook ${params.webhookId}`);
      await disableWebhookSubscription(db, params.partyId, params.webhookId);
      res.status(204).end();
    },
  );
}
