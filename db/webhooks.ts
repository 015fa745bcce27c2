// Webhook subscriptions of a party: where its notifications go, for which events.
import { sql, type Kysely } from 'kysely';
import { createdAfter, createdKey, pageOf, type CreatedPage } from './pages';
import type { Schema, WebhookSubscriptionRow } from './schema';

export interface WebhookSubscriptionInput {
  id: string;
  partyId: string;
  url: string;
  /** Already sealed (db/secret-box.ts). */
  sealedSecret: string;
  events: string[];
}

export async function createWebhookSubscription(db: Kysely<Schema>, input: WebhookSubscriptionInput): Promise<WebhookSubscriptionRow> {
  return db
    .insertInto('webhook_subscriptions')
    .values({ id: input.id, party_id: input.partyId, url: input.url, secret: input.sealedSecret, events: input.events })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function getWebhookSubscription(db: Kysely<Schema>, partyId: string, id: string): Promise<WebhookSubscriptionRow | undefined> {
  return db.selectFrom('webhook_subscriptions').selectAll().where('id', '=', id).where('party_id', '=', partyId).executeTakeFirst();
}

/** A page of a party's subscriptions, oldest first; one more row than asked tells a next page exists. */
export async function listWebhookSubscriptionsPage(
  db: Kysely<Schema>,
  partyId: string,
  page: CreatedPage,
): Promise<{ subscriptions: (WebhookSubscriptionRow & { created_key: string })[]; more: boolean }> {
  let query = db
    .selectFrom('webhook_subscriptions')
    .selectAll()
    .select(createdKey.as('created_key'))
    .where('party_id', '=', partyId)
    .orderBy('created_at')
    .orderBy('id')
    .limit(page.limit + 1);
  if (page.after) query = query.where(createdAfter(page.after));
  const { rows, more } = pageOf(await query.execute(), page.limit);
  return { subscriptions: rows, more };
}

export function activeWebhookSubscriptions(db: Kysely<Schema>, partyId: string): Promise<WebhookSubscriptionRow[]> {
  return db
    .selectFrom('webhook_subscriptions')
    .selectAll()
    .where('party_id', '=', partyId)
    .where('disabled_at', 'is', null)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

/** Disables a subscription (idempotent: an already disabled one keeps its first date). */
export async function disableWebhookSubscription(db: Kysely<Schema>, partyId: string, id: string): Promise<void> {
  await db
    .updateTable('webhook_subscriptions')
    .set({ disabled_at: sql<Date>`now()` })
    .where('id', '=', id)
    .where('party_id', '=', partyId)
    .where('disabled_at', 'is', null)
    .execute();
}

/** `*` matches everything, `step.*` every `step.` event, anything else itself. */
export function eventMatches(patterns: readonly string[], event: string): boolean {
  return patterns.some((p) => p === '*' || p === event || (p.endsWith('.*') && event.startsWith(p.slice(0, -1))));
}

/** Records endpoints an outbox row reached, so a retry skips them. */
export async function recordDeliveries(db: Kysely<Schema>, outboxId: number, endpointIds: string[]): Promise<void> {
  if (endpointIds.length === 0) return;
  await db
    .updateTable('outbox')
    .set({ delivered_to: sql<string[]>`array(select distinct unnest(delivered_to || ${sql.val(endpointIds)}::text[]))` })
    .where('id', '=', outboxId)
    .where('status', '=', 'pending')
    .execute();
}
