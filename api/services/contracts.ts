// Contracts through the API: a draft from a document, amendments as new immutable versions,
// the status lifecycle, and coverage. Parties named in a document are written as
// scripts/load-example.ts does, but a document never changes who an existing party is.
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Principal } from '../../db/api-keys';
import { addContractVersion, createContractFromDocument, getContract, getContractVersion, setContractStatus, type ContractWithParties } from '../../db/contracts';
import { writeContractParties } from '../../db/parties';
import type { ContractRow, ContractStatus, ContractVersionRow, Schema } from '../../db/schema';
import { inTransaction } from '../../db/transaction';
import { parseContract, type Contract } from '../../domain/contract';
import { coverageReport, type Coverage } from '../../domain/coverage';
import type { TemporalHandle } from '../../temporal/client';
import { mayWriteContract } from '../../domain/authorization';
import { badRequest, conflict, notFound, unprocessable, type FieldError } from '../errors';
import { authorize } from './authorize';
import { deleteSchedulesOf, syncSchedulesOf } from './schedules';

export interface ContractDeps {
  db: Kysely<Schema>;
  temporal: TemporalHandle;
  log: Logger;
}

/**
 * Hooks for recurring work (docs/ARCHITECTURE.md "Recurring work"): the schedule sync plugs in here.
 * They run after the status change is committed; a failure is logged, never undoes it.
 */
export const contractHooks = {
  async onContractActivated(deps: ContractDeps, contract: ContractRow): Promise<void> {
    await syncSchedulesOf(deps, contract);
  },
  async onContractAmended(deps: ContractDeps, contract: ContractRow, version: ContractVersionRow): Promise<void> {
    await syncSchedulesOf(deps, contract, version.version);
  },
  async onContractTerminated(deps: ContractDeps, contract: ContractRow): Promise<void> {
    await deleteSchedulesOf(deps, contract);
  },
};

/** What each status may move to from; terminating a draft abandons it. */
const ACTIVATABLE_FROM: ContractStatus[] = ['draft', 'transition'];
const TERMINABLE_FROM: ContractStatus[] = ['draft', 'transition', 'active', 'reversibility'];

/** The person of the provider who writes the contract (domain/authorization.ts mayWriteContract), or 403. */
function requireProviderOperator(principal: Principal, doing: string): string {
  authorize(mayWriteContract(principal, doing));
  return principal.userId!;
}

/** A contract the principal's party is part of, or 404. */
export async function visibleContract(db: Kysely<Schema>, principal: Principal, contractId: string): Promise<ContractWithParties> {
  const contract = await getContract(db, contractId);
  if (!contract?.party_ids.includes(principal.partyId)) throw notFound(`contract ${contractId}`);
  return contract;
}

/** Issues of a document as field errors: the JSON pointer into the request body. */
function documentErrors(issues: { pointer: string; message: string }[]): FieldError[] {
  return issues.map((i) => ({ path: `/document${i.pointer}`, message: i.message }));
}

function parseDocument(document: unknown): Contract {
  const parsed = parseContract(document);
  if (!parsed.ok) throw badRequest('the contract document is invalid', documentErrors(parsed.issues));
  return parsed.contract;
}

function roleOf(contract: Contract, kind: 'provider' | 'client') {
  return contract.parties.find((p) => p.kind === kind);
}

/** Refuses a document that would change an existing party's kind or contractor, or move a user or an agent. */
async function checkExistingParties(db: Kysely<Schema>, contract: Contract): Promise<void> {
  const errors: FieldError[] = [];
  const partyIds = contract.parties.map((p) => p.id);
  const userIds = contract.parties.flatMap((p) => p.users.map((u) => u.id));
  const agentIds = contract.parties.flatMap((p) => p.agents.map((a) => a.id));
  const [parties, users, agents] = await Promise.all([
    db.selectFrom('parties').select(['id', 'kind', 'contracted_by']).where('id', 'in', partyIds).execute(),
    userIds.length ? db.selectFrom('users').select(['id', 'party_id']).where('id', 'in', userIds).execute() : [],
    agentIds.length ? db.selectFrom('agents').select(['id', 'party_id']).where('id', 'in', agentIds).execute() : [],
  ]);
  const existing = new Map(parties.map((p) => [p.id, p]));
  const userParty = new Map(users.map((u) => [u.id, u.party_id]));
  const agentParty = new Map(agents.map((a) => [a.id, a.party_id]));
  contract.parties.forEach((party, i) => {
    const known = existing.get(party.id);
    if (known && known.kind !== party.kind) errors.push({ path: `/document/parties/${i}/kind`, message: `party ${party.id} exists as a ${known.kind}: a document cannot make it a ${party.kind}` });
    else if (known && known.contracted_by !== (party.contractedBy ?? null)) errors.push({ path: `/document/parties/${i}/contractedBy`, message: `party ${party.id} is contracted by ${known.contracted_by ?? 'nobody'}: a document cannot change it` });
    party.users.forEach((u, j) => {
      const owner = userParty.get(u.id);
      if (owner !== undefined && owner !== party.id) errors.push({ path: `/document/parties/${i}/users/${j}/id`, message: `user ${u.id} belongs to another party` });
    });
    party.agents.forEach((a, j) => {
      const owner = agentParty.get(a.id);
      if (owner !== undefined && owner !== party.id) errors.push({ path: `/document/parties/${i}/agents/${j}/id`, message: `agent ${a.id} belongs to another party` });
    });
  });
  if (errors.length) throw unprocessable('party-conflict', 'The document conflicts with existing parties', 'a party, user or agent of the document exists with another kind or party', { errors });
}

/** Parties a third party is contracted by come first (foreign key). */
export async function createDraft(deps: ContractDeps, principal: Principal, document: unknown): Promise<ContractWithParties> {
  const userId = requireProviderOperator(principal, 'creating a contract');
  const contract = parseDocument(document);
  const provider = roleOf(contract, 'provider');
  const client = roleOf(contract, 'client');
  if (!provider || !client) {
    throw unprocessable('invalid-parties', 'A contract needs a provider and a client', 'the document names no provider or no client', { errors: [{ path: '/document/parties', message: 'one provider and one client are required' }] });
  }
  if (provider.id !== principal.partyId) {
    throw unprocessable('wrong-provider', 'Not your contract', `the provider of this deployment is ${principal.partyId}, the document names ${provider.id}`, { errors: [{ path: `/document/parties/${contract.parties.indexOf(provider)}/id`, message: `expected ${principal.partyId}` }] });
  }
  if (await getContract(deps.db, contract.id)) throw conflict(`contract ${contract.id} exists already: amend it with a new version`, { contractId: contract.id });
  await checkExistingParties(deps.db, contract);
  const { contract: row, created } = await inTransaction(deps.db, (trx) =>
    createContractFromDocument(trx, contract, { providerId: provider.id, clientId: client.id, createdBy: userId }),
  );
  if (!created) throw conflict(`contract ${contract.id} exists already: amend it with a new version`, { contractId: contract.id });
  return row;
}

export async function amendContract(deps: ContractDeps, principal: Principal, contractId: string, document: unknown): Promise<{ contract: ContractWithParties; version: ContractVersionRow }> {
  const current = await visibleContract(deps.db, principal, contractId);
  const userId = requireProviderOperator(principal, 'amending a contract');
  if (current.status === 'terminated') throw conflict(`contract ${contractId} is terminated: it cannot be amended`, { status: current.status });
  const contract = parseDocument(document);
  const errors: FieldError[] = [];
  if (contract.id !== contractId) errors.push({ path: '/document/id', message: `an amendment of ${contractId} keeps its id` });
  if (roleOf(contract, 'provider')?.id !== current.provider_id) errors.push({ path: '/document/parties', message: `the provider stays ${current.provider_id}` });
  if (roleOf(contract, 'client')?.id !== current.client_id) errors.push({ path: '/document/parties', message: `the client stays ${current.client_id}` });
  if (contract.currency !== current.currency) errors.push({ path: '/document/currency', message: `the currency stays ${current.currency}` });
  if (errors.length) throw unprocessable('invalid-amendment', 'Invalid amendment', 'an amendment keeps the contract id, its provider, client and currency', { errors });
  await checkExistingParties(deps.db, contract);
  const version = await inTransaction(deps.db, async (trx) => {
    await writeContractParties(trx, contract);
    return addContractVersion(trx, { contractId, document: contract, createdBy: userId, partyIds: contract.parties.map((p) => p.id) });
  });
  if (!version) throw notFound(`contract ${contractId}`);
  const amended = await visibleContract(deps.db, principal, contractId);
  await runHook(deps, 'onContractAmended', () => contractHooks.onContractAmended(deps, amended, version));
  return { contract: amended, version };
}

async function moveStatus(deps: ContractDeps, contractId: string, to: ContractStatus, from: ContractStatus[], termination?: { by: string; reason: string }): Promise<ContractRow> {
  const moved = await setContractStatus(deps.db, contractId, to, { from, termination });
  if (moved) return moved;
  const now = await getContract(deps.db, contractId);
  throw conflict(`contract ${contractId} is ${now?.status ?? 'gone'}: it cannot become ${to} (only from ${from.join(', ')})`, { status: now?.status });
}

export async function activateContract(deps: ContractDeps, principal: Principal, contractId: string): Promise<ContractWithParties> {
  await visibleContract(deps.db, principal, contractId);
  requireProviderOperator(principal, 'activating a contract');
  const moved = await moveStatus(deps, contractId, 'active', ACTIVATABLE_FROM);
  await runHook(deps, 'onContractActivated', () => contractHooks.onContractActivated(deps, moved));
  return visibleContract(deps.db, principal, contractId);
}

export async function terminateContract(deps: ContractDeps, principal: Principal, contractId: string, reason: string): Promise<ContractWithParties> {
  await visibleContract(deps.db, principal, contractId);
  const userId = requireProviderOperator(principal, 'terminating a contract');
  const moved = await moveStatus(deps, contractId, 'terminated', TERMINABLE_FROM, { by: userId, reason });
  await runHook(deps, 'onContractTerminated', () => contractHooks.onContractTerminated(deps, moved));
  return visibleContract(deps.db, principal, contractId);
}

/** A version of a contract the principal sees, or 404. */
export async function visibleVersion(deps: ContractDeps, principal: Principal, contractId: string, version: number): Promise<{ contract: ContractWithParties; version: ContractVersionRow }> {
  const contract = await visibleContract(deps.db, principal, contractId);
  const row = await getContractVersion(deps.db, contractId, version);
  if (!row) throw notFound(`version ${version} of contract ${contractId}`);
  return { contract, version: row };
}

/** Pricing is between the provider and the client: third parties never see it. */
export function documentFor(principal: Principal, contract: ContractRow, document: unknown): unknown {
  const seesPricing = principal.partyId === contract.provider_id || principal.partyId === contract.client_id;
  if (seesPricing || !document || typeof document !== 'object') return document;
  const { pricing: _pricing, ...rest } = document as Record<string, unknown>;
  return rest;
}

export async function contractCoverage(deps: ContractDeps, principal: Principal, contractId: string): Promise<{ contract: ContractWithParties; processes: Coverage[] }> {
  const contract = await visibleContract(deps.db, principal, contractId);
  const version = await getContractVersion(deps.db, contractId, contract.current_version);
  const parsed = version && parseContract(version.document);
  if (!parsed?.ok) throw new Error(`contract ${contractId} v${contract.current_version} does not parse`);
  return { contract, processes: coverageReport(parsed.contract) };
}

async function runHook(deps: ContractDeps, name: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    deps.log.error({ err, hook: name }, 'contract hook failed');
  }
}
