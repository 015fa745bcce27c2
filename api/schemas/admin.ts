// Requests and responses of the administration routes (parties, users, agents, keys, webhooks).
import { z } from 'zod';
import { isPublicHost } from '../../worker/webhook-address';
import '../spec';
import { ContractQuery } from './contracts';

const Iso = z.string().openapi({ format: 'date-time', example: '2027-02-01T08:30:00.000Z' });

/** Ids of parties, users and agents: unique per deployment, readable in URLs and logs. */
export const Slug = z
  .string()
  .regex(/^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/, 'a slug: lowercase letters, digits and inner hyphens (1 to 64)');
/** `signatory` is granted only by the party's own admins (domain/authorization.ts mayGrantRoles). */
export const UserRole = z.enum(['admin', 'operator', 'approver', 'viewer', 'signatory']);
export const KeyRole = z.enum(['admin', 'operator', 'approver', 'viewer', 'agent', 'signatory']);

const distinct = (values: readonly string[]) => new Set(values).size === values.length;

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export const CreateParty = z
  .strictObject({
    id: Slug.openapi({ example: 'boulangeries-martin' }),
    kind: z.enum(['provider', 'client', 'third-party']),
    name: z.string().trim().min(1).max(200),
    timezone: z.string().refine(isTimeZone, 'an IANA time zone, e.g. Europe/Paris').openapi({ example: 'Europe/Paris' }),
    contractedBy: Slug.optional().openapi({ description: 'Third parties only: the party holding its contract (the provider for a subcontractor, a client for its own vendor).' }),
  })
  .superRefine((party, ctx) => {
    if (party.kind === 'third-party' && party.contractedBy === undefined) ctx.addIssue({ code: 'custom', path: ['contractedBy'], message: 'a third party names who contracted it' });
    if (party.kind !== 'third-party' && party.contractedBy !== undefined) ctx.addIssue({ code: 'custom', path: ['contractedBy'], message: 'only a third party is contracted by another party' });
  })
  .openapi('CreateParty');
export type CreateParty = z.infer<typeof CreateParty>;

export const CreateUser = z
  .strictObject({
    id: Slug.openapi({ example: 'u-dsi-paul' }),
    name: z.string().trim().min(1).max(200).optional(),
    roles: z.array(UserRole).min(1).refine(distinct, 'each role once'),
    team: z.string().trim().min(1).max(64).optional(),
  })
  .openapi('CreateUser');
export type CreateUser = z.infer<typeof CreateUser>;

export const ChangeUser = z
  .strictObject({
    name: z.string().trim().min(1).max(200).optional(),
    roles: z.array(UserRole).min(1).refine(distinct, 'each role once').optional().openapi({ description: "The user's roles from now on: its keys act with those they were issued with that it still holds." }),
    team: z.string().trim().min(1).max(64).optional(),
  })
  .refine((body) => Object.keys(body).length > 0, { message: 'give at least one of name, roles or team' })
  .openapi('ChangeUser');
export type ChangeUser = z.infer<typeof ChangeUser>;

export const InviteFirstAdmin = z
  .strictObject({
    id: Slug.openapi({ example: 'u-dsi-admin' }),
    name: z.string().trim().min(1).max(200).optional(),
    team: z.string().trim().min(1).max(64).optional(),
  })
  .openapi('InviteFirstAdmin');
export type InviteFirstAdmin = z.infer<typeof InviteFirstAdmin>;

export const CreateAgent = z
  .strictObject({ id: Slug.openapi({ example: 'martin-agent-lyon' }), site: z.string().trim().min(1).max(128).optional() })
  .openapi('CreateAgent');
export type CreateAgent = z.infer<typeof CreateAgent>;

export const IssueApiKey = z
  .strictObject({
    userId: Slug.optional(),
    agentId: Slug.optional(),
    roles: z.array(KeyRole).min(1).refine(distinct, 'each role once').openapi({ description: "A subset of the holder's roles; an agent's key has exactly `agent`." }),
  })
  .superRefine((body, ctx) => {
    if ((body.userId === undefined) === (body.agentId === undefined)) ctx.addIssue({ code: 'custom', path: ['userId'], message: 'give exactly one of userId or agentId' });
  })
  .openapi('IssueApiKey');
export type IssueApiKey = z.infer<typeof IssueApiKey>;

// Webhooks are posted from inside the deployment: no internal address (worker/webhook-address.ts
// checks the resolved address again at send time).
export const WebhookEvent = z
  .string()
  .regex(/^(\*|[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*(\.\*)?)$/, 'an event name (`step.completed`), a prefix (`step.*`) or `*`');

export const CreateWebhook = z
  .strictObject({
    url: z
      .url({ protocol: /^https$/, error: 'an https:// URL' })
      .max(2048)
      .refine((u) => !URL.canParse(u) || isPublicHost(new URL(u).hostname), 'a public host name (no localhost, private or link-local address)')
      .refine((u) => !URL.canParse(u) || (!new URL(u).username && !new URL(u).password), 'no credentials in the URL: requests are signed with the secret')
      .openapi({ example: 'https://hooks.martin.example/mandate' }),
    events: z.array(WebhookEvent).min(1).max(32).refine(distinct, 'each event once').openapi({ example: ['step.completed', 'step.overdue'] }),
  })
  .openapi('CreateWebhook');
export type CreateWebhook = z.infer<typeof CreateWebhook>;

export const PartyView = z
  .object({ id: z.string(), kind: z.enum(['provider', 'client', 'third-party']), name: z.string(), timezone: z.string(), contractedBy: z.string().nullable(), createdAt: Iso })
  .openapi('Party');
export const PartyPage = z.object({ items: z.array(PartyView), next: z.string().nullable() }).openapi('PartyPage');

export const UserView = z
  .object({ id: z.string(), partyId: z.string(), name: z.string().nullable(), roles: z.array(z.string()), team: z.string().nullable(), createdAt: Iso })
  .openapi('User');
export const UserPage = z.object({ items: z.array(UserView), next: z.string().nullable() }).openapi('UserPage');

export const AgentView = z.object({ id: z.string(), partyId: z.string(), site: z.string().nullable(), roles: z.array(z.literal('agent')), createdAt: Iso }).openapi('Agent');
export const AgentPage = z.object({ items: z.array(AgentView), next: z.string().nullable() }).openapi('AgentPage');

export const ApiKeyView = z
  .object({
    id: z.string(),
    prefix: z.string().openapi({ description: 'The visible part of the key (`mk_<prefix>_…`), to recognise it.' }),
    partyId: z.string(),
    userId: z.string().nullable(),
    agentId: z.string().nullable(),
    roles: z.array(z.string()),
    createdAt: Iso,
    lastUsedAt: Iso.nullable(),
    revokedAt: Iso.nullable(),
  })
  .openapi('ApiKey');
export const IssuedApiKey = ApiKeyView.extend({ key: z.string().openapi({ description: 'The key in clear: shown this once, never again.' }) }).openapi('IssuedApiKey');
export const ApiKeyPage = z.object({ items: z.array(ApiKeyView), next: z.string().nullable() }).openapi('ApiKeyPage');

export const InvitedFirstAdmin = z
  .object({ user: UserView, key: IssuedApiKey })
  .openapi('InvitedFirstAdmin', { description: 'The first admin and its key, in clear this once: hand it over; the admin issues its own keys and revokes this one.' });

export const WebhookView = z
  .object({ id: z.string(), partyId: z.string(), url: z.string(), events: z.array(z.string()), createdAt: Iso, disabledAt: Iso.nullable() })
  .openapi('WebhookSubscription');
export const CreatedWebhook = WebhookView.extend({
  secret: z.string().openapi({ description: 'The signing secret in clear: shown this once. Check `Mandate-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "t.body")>`.' }),
}).openapi('CreatedWebhookSubscription');
export const WebhookPage = z.object({ items: z.array(WebhookView), next: z.string().nullable() }).openapi('WebhookSubscriptionPage');

/** `limit` and `after` of a list, exactly as the contracts list takes them; unknown parameters are 400. */
export const PageQuery = ContractQuery.pick({ limit: true, after: true });

export const PartyParams = z.object({ partyId: z.string().min(1).max(128) });
export const UserParams = PartyParams.extend({ userId: z.string().min(1).max(128) });
export const KeyParams = PartyParams.extend({ keyId: z.string().min(1).max(128) });
export const WebhookParams = PartyParams.extend({ webhookId: z.string().min(1).max(128) });
export const IdempotencyHeader = z.object({
  'idempotency-key': z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/).optional().openapi({ description: 'A retry with the same key and body returns the first response; with another body, 422.' }),
});
