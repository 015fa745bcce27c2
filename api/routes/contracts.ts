import type { Router } from 'express';
import { listContractsPage } from '../../db/contracts';
import type { ApiDeps } from '../app';
import type { ApiSpec } from '../spec';
import { ContractDocumentBody, ContractPage, ContractParams, ContractQuery, ContractVersionView, ContractView, CoverageView, TerminateBody, VersionParams } from '../schemas/contracts';
import { activateContract, amendContract, contractCoverage, createDraft, documentFor, terminateContract, visibleContract, visibleVersion } from '../services/contracts';
import { contractVersionView, contractView, decodeCursor, encodeCursor } from '../views';

const writeResponses = {
  403: { description: 'Only a user of the provider with the admin or operator role writes contracts' },
} as const;

export function contractRoutes(deps: ApiDeps, spec: ApiSpec, router: Router): void {
  spec.route(
    router,
    {
      method: 'post',
      path: '/contracts',
      summary: 'Create a draft contract from a contract document',
      description: 'The document is validated as a whole; each issue names its JSON pointer in `errors[].path`. Parties, users and agents of the document are created or updated, but a party never changes kind and a user or agent never changes party (422).',
      tags: ['contracts'],
      body: ContractDocumentBody,
      responses: {
        201: { description: 'The draft, at version 1', schema: ContractView },
        ...writeResponses,
        409: { description: 'A contract with this id exists' },
        422: { description: 'The document conflicts with existing parties, or names another provider' },
      },
    },
    async ({ res, body, principal }) => {
      const contract = await createDraft(deps, principal, body.document);
      res.status(201).location(`/v1/contracts/${encodeURIComponent(contract.id)}`).json(contractView(contract));
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
      summary: 'Amend a contract: a new immutable version becomes current',
      description: 'Running processes keep the version they started with. The amendment keeps the contract id, its provider, client and currency.',
      tags: ['contracts'],
      params: ContractParams,
      body: ContractDocumentBody,
      responses: {
        201: { description: 'The new version', schema: ContractVersionView },
        ...writeResponses,
        409: { description: 'The contract is terminated' },
        422: { description: 'The amendment changes the id, provider, client or currency, or conflicts with existing parties' },
      },
    },
    async ({ res, params, body, principal }) => {
      const { contract, version } = await amendContract(deps, principal, params.contractId, body.document);
      res
        .status(201)
        .location(`/v1/contracts/${encodeURIComponent(contract.id)}/versions/${version.version}`)
        .json(contractVersionView(version, documentFor(principal, contract, version.document)));
    },
  );

  spec.route(
    router,
    {
      method: 'post',
      path: '/contracts/{contractId}/activate',
      summary: 'Activate a contract (from draft or transition)',
      tags: ['contracts'],
      params: ContractParams,
      responses: { 200: { description: 'The active contract', schema: ContractView }, ...writeResponses, 409: { description: 'The status does not allow it; `status` is the current one' } },
    },
    async ({ res, params, principal }) => {
      res.json(contractView(await activateContract(deps, principal, params.contractId)));
    },
  );

  spec.route(
    router,
    {
      method: 'post',
      path: '/contracts/{contractId}/terminate',
      summary: 'Terminate a contract: its processes can no longer be started',
      tags: ['contracts'],
      params: ContractParams,
      body: TerminateBody,
      responses: { 200: { description: 'The terminated contract', schema: ContractView }, ...writeResponses, 409: { description: 'Already terminated; `status` is the current one' } },
    },
    async ({ res, params, body, principal }) => {
      res.json(contractView(await terminateContract(deps, principal, params.contractId, body.reason)));
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
