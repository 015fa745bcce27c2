// Contracts through the API: a contract or an amendment is proposed, and changes nothing until a
// signatory of the provider and one of the client sign it (the contract-proposal process,
// workflows/contract.ts); notice of termination starts the exit. A contract document names
// parties: it creates the parties it brings in, never the users, roles or agents of a party that
// exists (docs/ARCHITECTURE.md "Contract signing").
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Principal } from '../../db/api-keys';
import { createHash } from 'node:crypto';
import { createContractFromDocument, getContract, getContractVersion, openProposal, proposeVersion, setProposalProcess, type ContractVersionWithState, type ContractWithParties } from '../../db/contracts';
import { canonicalJson } from '../../db/journal';
import { writeNewParties } from '../../db/parties';
import { registerProcess } from '../../db/processes';
import type { ContractRow, ContractVersionRow, ProcessRow, Schema } from '../../db/schema';
import { inTransaction } from '../../db/transaction';
import { parseContract, type Contract } from '../../domain/contract';
import { coverageReport, type Coverage } from '../../domain/coverage';
import type { TemporalHandle } from '../../temporal/client';
import { mayGiveNotice, mayProposeContract } from '../../domain/authorization';
import type { ExitInput, ProposalInput } from '../../domain/contract-proposal';
import { processIdFor, startContractWorkflow } from '../../temporal/start';
import type { ProcessStart } from '../../workflows/definitions';
import { badRequest, conflict, notFound, unprocessable, type FieldError } from '../errors';
import { authorize } from './authorize';

export interface ContractDeps {
  db: Kysely<Schema>;
  temporal: TemporalHandle;
  log: Logger;
}

/** The person of the provider who proposes (domain/authorization.ts mayProposeContract), or 403. */
function requireProposer(principal: Principal, doing: string): string {
  authorize(mayProposeContract(principal, doing));
  return principal.userId!;
}

/** What the signatories sign: SHA-256 of the document's canonical JSON. */
export function documentDigest(document: unknown): string {
  return createHash('sha256').update(canonicalJson(document)).digest('hex');
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
  await checkPartyPeople(db, contract, new Set(existing.keys()));
}

const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x) => b.includes(x));

/**
 * A document names parties; it never creates, changes or removes the people of one that exists
 * (their own admins do), and never grants `signatory`. For an existing party, the users and
 * agents it lists must be as they are (it may list fewer: nothing is removed either way).
 */
async function checkPartyPeople(db: Kysely<Schema>, contract: Contract, existing: Set<string>): Promise<void> {
  const errors: FieldError[] = [];
  const known = [...existing];
  const [users, agents] = await Promise.all([
    known.length ? db.selectFrom('users').select(['id', 'party_id', 'roles', 'team']).where('party_id', 'in', known).execute() : [],
    known.length ? db.selectFrom('agents').select(['id', 'party_id', 'site']).where('party_id', 'in', known).execute() : [],
  ]);
  const userById = new Map(users.map((u) => [u.id, u]));
  const agentById = new Map(agents.map((a) => [a.id, a]));
  contract.parties.forEach((party, i) => {
    const exists = existing.has(party.id);
    party.users.forEach((u, j) => {
      const at = `/document/parties/${i}/users/${j}`;
      const row = userById.get(u.id);
      if (!exists) {
        if (u.roles.includes('signatory')) errors.push({ path: `${at}/roles`, message: `a contract document never grants signatory: ${party.id}'s own admins do` });
        return;
      }
      if (!row) errors.push({ path: `${at}/id`, message: `party ${party.id} exists: a contract document does not create its users (its admins do)` });
      else if (!sameSet(u.roles, row.roles)) errors.push({ path: `${at}/roles`, message: `user ${u.id} holds ${row.roles.join(', ')}: a contract document does not change the roles of an existing party's users (its admins do)` });
      else if ((u.team ?? null) !== row.team) errors.push({ path: `${at}/team`, message: `user ${u.id} is in team ${row.team ?? 'none'}: a contract document does not change it` });
    });
    if (!exists) return;
    party.agents.forEach((a, j) => {
      const row = agentById.get(a.id);
      if (!row) errors.push({ path: `/document/parties/${i}/agents/${j}/id`, message: `party ${party.id} exists: a contract document does not create its agents (its admins do)` });
      else if (a.site !== undefined && a.site !== row.site) errors.push({ path: `/document/parties/${i}/agents/${j}/site`, message: `agent ${a.id} is at site ${row.site ?? 'none'}: a contract document does not change it` });
    });
  });
  if (errors.length) throw unprocessable('party-people', "A contract document does not administer a party's people", "the users, roles and agents of an existing party are changed by that party's admins, never by a contract", { errors });
}

/**
 * Registers and starts the proposal's signing process: a process of Mandate under the contract,
 * at the proposed version, requested by the proposer (who may not sign it: four-eyes).
 */
async function startProposal(deps: ContractDeps, principal: Principal, contract: ContractRow, version: ContractVersionWithState, kind: ProposalInput['kind']): Promise<ProcessRow> {
  // Temporal keeps ended workflow ids (per namespace, beyond this database): the key carries when it was proposed.
  const businessKey = `v${version.version}.${version.created_at.getTime().toString(36)}`;
  const id = processIdFor(contract.id, 'contract-proposal', businessKey);
  const { process } = await registerProcess(deps.db, { id, contractId: contract.id, contractVersion: version.version, processType: 'contract-proposal', businessKey, requestedBy: principal.userId!, requestedByParty: principal.partyId });
  await setProposalProcess(deps.db, contract.id, version.version, id);
  const input: ProposalInput = { kind, documentSha256: version.document_sha256 ?? documentDigest(version.document) };
  const start: ProcessStart = { contractId: contract.id, version: version.version, processType: 'contract-proposal', businessKey, requestedBy: { userId: process.requested_by, partyId: process.requested_by_party }, input };
  await startContractWorkflow(deps.temporal.client, 'contract-proposal', start, { taskQueue: deps.temporal.taskQueue, clientId: contract.client_id });
  return process;
}

/**
 * A new contract, proposed: the draft at version 1 (`proposed`) and the process collecting the
 * signatures. The parties it brings in are created (never the people of one that exists).
 */
export async function createDraft(deps: ContractDeps, principal: Principal, document: unknown): Promise<{ contract: ContractWithParties; processId: string }> {
  const userId = requireProposer(principal, 'proposing a contract');
  const contract = parseDocument(document);
  const provider = roleOf(contract, 'provider');
  const client = roleOf(contract, 'client');
  if (!provider || !client) {
    throw unprocessable('invalid-parties', 'A contract needs a provider and a client', 'the document names no provider or no client', { errors: [{ path: '/document/parties', message: 'one provider and one client are required' }] });
  }
  if (provider.id !== principal.partyId) {
    throw unprocessable('wrong-provider', 'Not your contract', `the provider of this deployment is ${principal.partyId}, the document names ${provider.id}`, { errors: [{ path: `/document/parties/${contract.parties.indexOf(provider)}/id`, message: `expected ${principal.partyId}` }] });
  }
  const documentSha256 = documentDigest(contract);
  const existing = await getContract(deps.db, contract.id);
  if (existing) {
    // A retry of the same proposal (its start may have failed after the draft was written) starts it again, once.
    const open = existing.status === 'draft' ? await openProposal(deps.db, contract.id) : undefined;
    if (open?.version === 1 && open.document_sha256 === documentSha256) return { contract: existing, processId: (await startProposal(deps, principal, existing, open, 'new')).id };
    throw conflict(`contract ${contract.id} exists already: amend it with a new version`, { contractId: contract.id });
  }
  await checkExistingParties(deps.db, contract);
  const { contract: row, created } = await inTransaction(deps.db, (trx) =>
    createContractFromDocument(trx, contract, { providerId: provider.id, clientId: client.id, createdBy: userId, proposal: { documentSha256 } }),
  );
  if (!created) throw conflict(`contract ${contract.id} exists already: amend it with a new version`, { contractId: contract.id });
  const version = await getContractVersion(deps.db, row.id, 1);
  if (!version) throw new Error(`contract ${row.id} v1 vanished after its creation`);
  const process = await startProposal(deps, principal, row, version, 'new');
  return { contract: row, processId: process.id };
}

/**
 * An amendment, proposed: the next version, not in force until a signatory of each party signs.
 * Running processes keep their version either way.
 */
export async function amendContract(deps: ContractDeps, principal: Principal, contractId: string, document: unknown): Promise<{ contract: ContractWithParties; version: ContractVersionWithState }> {
  const current = await visibleContract(deps.db, principal, contractId);
  const userId = requireProposer(principal, 'proposing an amendment');
  if (current.status === 'terminated' || current.status === 'reversibility') throw conflict(`contract ${contractId} is ${current.status}: it cannot be amended`, { status: current.status });
  const contract = parseDocument(document);
  const errors: FieldError[] = [];
  if (contract.id !== contractId) errors.push({ path: '/document/id', message: `an amendment of ${contractId} keeps its id` });
  if (roleOf(contract, 'provider')?.id !== current.provider_id) errors.push({ path: '/document/parties', message: `the provider stays ${current.provider_id}` });
  if (roleOf(contract, 'client')?.id !== current.client_id) errors.push({ path: '/document/parties', message: `the client stays ${current.client_id}` });
  if (contract.currency !== current.currency) errors.push({ path: '/document/currency', message: `the currency stays ${current.currency}` });
  if (errors.length) throw unprocessable('invalid-amendment', 'Invalid amendment', 'an amendment keeps the contract id, its provider, client and currency', { errors });
  await checkExistingParties(deps.db, contract);
  const proposed = await inTransaction(deps.db, async (trx) => {
    const result = await proposeVersion(trx, { contractId, document: contract, documentSha256: documentDigest(contract), createdBy: userId, partyIds: contract.parties.map((p) => p.id) });
    if (result && 'version' in result) await writeNewParties(trx, contract);
    return result;
  });
  if (!proposed) throw notFound(`contract ${contractId}`);
  if ('open' in proposed) throw conflict(`version ${proposed.open.version} of contract ${contractId} waits for signatures: one proposal at a time (cancel its process to withdraw it)`, { version: proposed.open.version, processId: proposed.open.proposal_process_id });
  const process = await startProposal(deps, principal, current, proposed.version, current.status === 'draft' ? 'new' : 'amendment');
  const version = (await getContractVersion(deps.db, contractId, proposed.version.version)) ?? proposed.version;
  return { contract: await visibleContract(deps.db, principal, contractId), version: { ...version, proposal_process_id: process.id } };
}

/**
 * Notice of termination, by the provider or the client as the contract allows: the exit process
 * puts the contract in reversibility and, once the client signed the exit off, ends it.
 */
export async function giveNotice(deps: ContractDeps, principal: Principal, contractId: string, reason: string): Promise<{ contract: ContractWithParties; processId: string }> {
  const contract = await visibleContract(deps.db, principal, contractId);
  const version = await getContractVersion(deps.db, contractId, contract.current_version);
  const parsed = version && parseContract(version.document);
  const allowedBy = parsed?.ok ? (parsed.contract.termination?.by ?? ['provider', 'client']) : ['provider', 'client'] as const;
  authorize(mayGiveNotice({ actor: principal, contract: { providerId: contract.provider_id, clientId: contract.client_id }, allowedBy }));
  if (contract.status !== 'active' && contract.status !== 'transition') {
    throw conflict(`contract ${contractId} is ${contract.status}: notice is given to a signed contract (a draft's proposal is withdrawn by cancelling its process)`, { status: contract.status });
  }
  const running = await deps.db.selectFrom('processes').select('id').where('contract_id', '=', contractId).where('process_type', '=', 'contract-exit').where('status', '=', 'running').executeTakeFirst();
  if (running) throw conflict(`notice was given already (process ${running.id})`, { status: contract.status, processId: running.id });
  // One notice per contract at a time; the key tells notices apart in Temporal, which keeps ended workflow ids.
  const businessKey = `notice.${Date.now().toString(36)}`;
  const id = processIdFor(contractId, 'contract-exit', businessKey);
  const { process } = await registerProcess(deps.db, { id, contractId, contractVersion: contract.current_version, processType: 'contract-exit', businessKey, requestedBy: principal.userId!, requestedByParty: principal.partyId });
  const input: ExitInput = { reason, noticeBy: principal.partyId === contract.provider_id ? 'provider' : 'client' };
  const start: ProcessStart = { contractId, version: process.contract_version, processType: 'contract-exit', businessKey, requestedBy: { userId: process.requested_by, partyId: process.requested_by_party }, input };
  await startContractWorkflow(deps.temporal.client, 'contract-exit', start, { taskQueue: deps.temporal.taskQueue, clientId: contract.client_id });
  return { contract: await visibleContract(deps.db, principal, contractId), processId: id };
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

/**
 * Mandate's contract processes are not withdrawn once they bound someone: notice is not taken
 * back by cancelling the exit, and a proposal both parties signed is not cancelled (its contract
 * would wait in transition for a sign-off nobody can give). Before both signed, cancelling a
 * proposal withdraws it (declined).
 */
export async function refuseContractProcessCancel(db: Kysely<Schema>, process: ProcessRow): Promise<void> {
  if (process.process_type === 'contract-exit') throw conflict(`notice was given: the exit of ${process.contract_id} ends with the client's sign-off, it is not cancelled`, { status: process.status });
  if (process.process_type !== 'contract-proposal') return;
  const version = await getContractVersion(db, process.contract_id, process.contract_version);
  if (version?.state === 'signed') throw conflict(`version ${process.contract_version} of ${process.contract_id} is signed by both parties: its process is not cancelled`, { status: process.status });
}
