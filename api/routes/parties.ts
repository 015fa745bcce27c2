// Parties, their users and their agents: administration routes (api/services/admin.ts says who).
import type { Router } from 'express';
import { listAgentsPage, listUsersPage } from '../../db/parties';
import type { ApiDeps } from '../app';
import type { ApiSpec } from '../spec';
import { AgentPage, AgentView, ChangeUser, CreateAgent, CreateParty, CreateUser, InviteFirstAdmin, InvitedFirstAdmin, PageQuery, PartyPage, PartyParams, PartyView, UserPage, UserParams, UserView } from '../schemas/admin';
import { addAgent, addParty, addUser, administeredParty, agentView, changeUser, inviteFirstAdmin, partyView, userView, visiblePartiesPage, visibleParty } from '../services/admin';
import { mayGrantRoles } from '../../domain/authorization';
import { authorize } from '../services/authorize';
import { decodeCursor, encodeCursor } from '../views';

/** The last id of the previous page, from the `after` cursor (400 when malformed). */
const afterId = (after: string | undefined) => (after === undefined ? undefined : decodeCursor(after, 1)[0]);
/** The cursor of the next page: the last id, when more rows follow. */
const nextCursor = (page: { more: boolean }, last: { id: string } | undefined) => (page.more && last ? encodeCursor([last.id]) : null);

export function partyRoutes(deps: ApiDeps, spec: ApiSpec, router: Router): void {
  const { db } = deps;
  spec.route(
    router,
    {
      method: 'post',
      path: '/parties',
      summary: 'Create a party',
      description: "Provider admins and MANDATE_ADMIN_KEY only. One provider per deployment: the bootstrap key creates it first. A client's or vendor's users are then its own admins' business: the provider invites its first admin (`POST /v1/parties/{partyId}/first-admin`).",
      tags: ['administration'],
      body: CreateParty,
      responses: {
        201: { description: 'Created', schema: PartyView },
        403: { description: 'Not an admin of the provider' },
        409: { description: 'The id is taken, or a provider exists already' },
        422: { description: '`contractedBy` is not a provider or client of this deployment' },
      },
    },
    async ({ res, body, principal }) => {
      const party = await addParty(db, principal, body);
      res.status(201).location(`/v1/parties/${party.id}`).json(partyView(party));
    },
  );

  spec.route(
    router,
    {
      method: 'get',
      path: '/parties',
      summary: 'The parties I see: my own and those of my contracts (all of them for provider admins)',
      tags: ['administration'],
      query: PageQuery,
      responses: { 200: { description: 'A page of parties, by id', schema: PartyPage } },
    },
    async ({ res, query, principal }) => {
      const page = await visiblePartiesPage(db, principal, { limit: query.limit, afterId: afterId(query.after) });
      res.json({ items: page.parties.map(partyView), next: nextCursor(page, page.parties.at(-1)) });
    },
  );

  spec.route(
    router,
    { method: 'get', path: '/parties/{partyId}', summary: 'One party I see', tags: ['administration'], params: PartyParams, responses: { 200: { description: 'The party', schema: PartyView } } },
    async ({ res, params, principal }) => {
      res.json(partyView(await visibleParty(db, principal, params.partyId)));
    },
  );

  spec.route(
    router,
    {
      method: 'post',
      path: '/parties/{partyId}/first-admin',
      summary: "Invite a party's first admin",
      description:
        "Provider admins and MANDATE_ADMIN_KEY, once per party: while the party has no admin. Creates the user with the role `admin` and returns its key in clear this once; from then on only the party's own admins create, change and key its users and agents.",
      tags: ['administration'],
      params: PartyParams,
      body: InviteFirstAdmin,
      responses: {
        201: { description: 'Invited', schema: InvitedFirstAdmin },
        403: { description: 'Not an admin of the provider' },
        409: { description: 'The party has an admin already, or the user id is taken' },
      },
    },
    async ({ res, params, body, principal }) => {
      const invited = await inviteFirstAdmin(db, principal, params.partyId, body);
      res.status(201).location(`/v1/parties/${params.partyId}/users/${invited.user.id}`).json(invited);
    },
  );

  spec.route(
    router,
    {
      method: 'patch',
      path: '/parties/{partyId}/users/{userId}',
      summary: "Change a user's name, team or roles",
      description: "The party's own admins. The user's keys act at once with the roles they were issued with that the user still holds. The last admin of a party keeps the role (409).",
      tags: ['administration'],
      params: UserParams,
      body: ChangeUser,
      responses: {
        200: { description: 'Changed', schema: UserView },
        403: { description: 'Not an admin of that party' },
        409: { description: 'The change would leave the party without an admin' },
      },
    },
    async ({ res, params, body, principal }) => {
      await administeredParty(db, principal, params.partyId);
      if (body.roles) authorize(mayGrantRoles({ actor: principal, partyId: params.partyId, roles: body.roles }));
      const user = await changeUser(db, params.partyId, params.userId, body);
      // This node reads the user's keys again now; the others when the notification reaches them.
      deps.principalCache?.onNotify(`user:${user.id}`);
      res.json(userView(user));
    },
  );

  spec.route(
    router,
    {
      method: 'post',
      path: '/parties/{partyId}/users',
      summary: 'Add a user to a party',
      tags: ['administration'],
      params: PartyParams,
      body: CreateUser,
      responses: { 201: { description: 'Created', schema: UserView }, 403: { description: 'Not an admin of that party' }, 409: { description: 'The user id is taken' } },
    },
    async ({ res, params, body, principal }) => {
      await administeredParty(db, principal, params.partyId);
      authorize(mayGrantRoles({ actor: principal, partyId: params.partyId, roles: body.roles }));
      res.status(201).json(userView(await addUser(db, params.partyId, body)));
    },
  );

  spec.route(
    router,
    {
      method: 'get',
      path: '/parties/{partyId}/users',
      summary: "A party's users",
      tags: ['administration'],
      params: PartyParams,
      query: PageQuery,
      responses: { 200: { description: 'A page of users, by id', schema: UserPage }, 403: { description: 'Not an admin of that party' } },
    },
    async ({ res, params, query, principal }) => {
      await administeredParty(db, principal, params.partyId);
      const page = await listUsersPage(db, params.partyId, { limit: query.limit, afterId: afterId(query.after) });
      res.json({ items: page.users.map(userView), next: nextCursor(page, page.users.at(-1)) });
    },
  );

  spec.route(
    router,
    {
      method: 'post',
      path: '/parties/{partyId}/agents',
      summary: 'Add an agent (a program acting for the party) to a party',
      tags: ['administration'],
      params: PartyParams,
      body: CreateAgent,
      responses: { 201: { description: 'Created', schema: AgentView }, 403: { description: 'Not an admin of that party' }, 409: { description: 'The agent id is taken' } },
    },
    async ({ res, params, body, principal }) => {
      await administeredParty(db, principal, params.partyId);
      res.status(201).json(agentView(await addAgent(db, params.partyId, body)));
    },
  );

  spec.route(
    router,
    {
      method: 'get',
      path: '/parties/{partyId}/agents',
      summary: "A party's agents",
      tags: ['administration'],
      params: PartyParams,
      query: PageQuery,
      responses: { 200: { description: 'A page of agents, by id', schema: AgentPage }, 403: { description: 'Not an admin of that party' } },
    },
    async ({ res, params, query, principal }) => {
      await administeredParty(db, principal, params.partyId);
      const page = await listAgentsPage(db, params.partyId, { limit: query.limit, afterId: afterId(query.after) });
      res.json({ items: page.agents.map(agentView), next: nextCursor(page, page.agents.at(-1)) });
    },
  );
}
