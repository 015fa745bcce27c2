import type { Router } from 'express';
import { listContractsPage } from '../../db/contracts';
import type { ApiDeps } from '../app';
import type { ApiSpec } from '../spec';
import { ContractDocumentBody, ContractPage, ContractParams, ContractQuery, ContractVersionView, ContractView, CoverageView, NoticeView, ProposedContractView, TerminateBody, VersionParams } from '../schemas/contracts';
import { amendContract, contractCoverage, createDraft, documentFor, giveNotice, visibleContract, visibleVersion } from '../services/contracts';
import { contractVersionView, contractView, decodeCursor, encodeCursor } from '../views';

const writeResponses = {
  403: { description: 'Only a user of the provider with the admin or operator role proposes contracts' },
} as const;

export function contractRoutes(deps: ApiDeps, spec: ApiSpec, router: Router): void {
  spec.route(
    router,
    {
      method: 'post',
      path: '/contracts',
      summary: 'Propose a new contract: a draft until a signatory of the provider and one of the client sign it',
      description:
        'The document is validated as a whole; each issue names its JSON pointer in `errors[].path`. The draft is at version 1 (`proposed`) and a `contract-proposal` process asks a signatory of the provider, then one of the client, to sign (tasks of kind `sign`; the proposer cannot sign). Both signatures put the contract in `transition`; the client\'s transition sign-off makes it `active`. Parties the document brings in are created with their users and agents; the users, roles and agents of a party that exists are never created or changed by a document, and no document grants `signatory` (422).',
      tags: ['contracts'],
      body: ContractDocumentBody,
      responses: {
        201: { description: 'The draft, at version 1, and the proposal awaiting signatures', schema: ProposedContractView },
        ...writeResponses,
        409: { description: 'A contract with this id exists' },
        422: { description: "The document conflicts with existing parties, changes an existing party's people, grants signatory, or names another provider" },
      },
    },
    async ({ res, body, principal }) => {
      const { contract, processId } = await createDraft(deps, principal, body.document);
      res.status(201).location(`/v1/contracts/${encodeURIComponent(contract.id)}`).json({ ...contractView(contract), proposal: { version: 1, processId } });
    },
  );

  spec.route(
    router,
    { method: 'get', path: '/contracts', summary: 'The contracts my party is part of', tags: ['contracts'], query: ContractQuery, responses: { 200: { description: 'A page of contracts, by id', schema: ContractPage } } },
    async ({ res, query, principal }) => {
      const afterId = query.after === undefined ? undefined : decodeCursor(query.after, 1)[0];
      const page = await listContractsPage(deps.db, { partyId: principal.partyId, status: query.status, limit: query.limit, afterId });
      const last = page.contracts.at(-1);
      res.json({ items: page.contracts.map(contractView), next: page.more && last ? encodeCursor([last.id]) : null });
    },
  );

  spec.route(
    router,
    { method: 'get', path: '/contracts/{contractId}', summary: 'A contract: status and current version', tags: ['contracts'], params: ContractParams, responses: { 200: { description: 'The contract', schema: ContractView } } },
    async ({ res, params, principal }) => {
      res.json(contractView(await visibleContract(deps.db, principal, params.contractId)));
    },
  );

  spec.route(
    router,
    {
      method: 'get',
      path: '/contracts/{contractId}/versions/{version}',
      summary: 'One immutable version of a contract',
      description: 'Pricing is shown to the provider and the client only.',
      tags: ['contracts'],
      params: VersionParams,
      responses: { 200: { description: 'The version and its document', schema: ContractVersionView } },
    },
    async ({ res, params, principal }) => {
      const { contract, version } = await visibleVersion(deps, principal, params.contractId, params.version);
      res.json(contractVersionView(version, documentFor(principal, contract, version.document)));
    },
  );

  spec.route(
    router,
    {
      method: 'post',
      path: '/contracts/{contractId}/versions',
      summary: 'Propose an amendment: a new immutable version, in force once both parties signed it',
      description:
        'The version is `proposed` and a `contract-proposal` process asks a signatory of the provider, then one of the client, to sign; until both did, the version in force stays (a draft points at its latest proposal). Both signatures make it current; running processes keep the version they started with; schedules follow once. One proposal at a time. The amendment keeps the contract id, its provider, client and currency, and never changes the people of an existing party.',
      tags: ['contracts'],
      params: ContractParams,
      body: ContractDocumentBody,
      responses: {
        202: { description: 'The proposed version; `proposalProcessId` collects the signatures', schema: ContractVersionView },
        ...writeResponses,
        409: { description: 'The contract is ending or terminated, or another proposal waits for signatures' },
        422: { description: "The amendment changes the id, provider, client or currency, conflicts with existing parties or changes an existing party's people" },
      },
    },
    async ({ res, params, body, principal }) => {
      const { contract, version } = await amendContract(deps, principal, params.contractId, body.document);
      res
        .status(202)
        .location(`/v1/contracts/${encodeURIComponent(contract.id)}/versions/${version.version}`)
        .json(contractVersionView(version, documentFor(principal, contract, version.document)));
    },
  );

  spec.route(
    router,
    {
      method: 'post',
      path: '/contracts/{contractId}/terminate',
      summary: 'Give notice of termination: the exit process (reversibility) ends the contract',
      description:
        "By an operator or admin of the provider or of the client, as the contract's `termination.by` allows (both when it is silent). A `contract-exit` process puts the contract in `reversibility` and, once a signatory of the client signed the exit off (or at the exit's hard deadline), sets it `terminated` and deletes its schedules.",
      tags: ['contracts'],
      params: ContractParams,
      body: TerminateBody,
      responses: {
        202: { description: 'Notice given; the exit process runs', schema: NoticeView },
        403: { description: 'Not an operator or admin of a party the contract lets give notice' },
        409: { description: 'The contract is not signed, or is ending already; `status` is the current one' },
      },
    },
    async ({ res, params, body, principal }) => {
      const { contract, processId } = await giveNotice(deps, principal, params.contractId, body.reason);
      res.status(202).json({ ...contractView(contract), exit: { processId } });
    },
  );

  spec.route(
    router,
    {
      method: 'get',
      path: '/contracts/{contractId}/coverage',
      summary: 'Every process of the catalogue: covered by the current version, or what is missing',
      tags: ['contracts'],
      params: ContractParams,
      responses: { 200: { description: 'The coverage report', schema: CoverageView } },
    },
    async ({ res, params, principal }) => {
      const { contract, processes } = await contractCoverage(deps, principal, params.contractId);
      res.json({ contractId: contract.id, version: contract.current_version, processes });
    },
  );
}
