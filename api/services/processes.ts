// Starting a process: the API validates and records, Temporal runs, the workflow decides.
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Kysely } from 'kysely';
import type { Schema } from '../../db/schema';
import type { Principal } from '../../db/api-keys';
import type { ContractWithParties } from '../../db/contracts';
import { contractHint, getParsedContractVersion, readContract } from '../../db/contract-cache';
import { getProcess as getProcessRow, registerProcess, registerProcessUnderContract } from '../../db/processes';
import type { ContractStatus, ProcessRow } from '../../db/schema';
import { mayCancelProcess, mayDecideChangeException, mayStartProcess } from '../../domain/authorization';
import { changeExceptionErrors } from '../../domain/change';
import { getProcess, PROCESSES, type PatchCycleInput, type ProcessDefinition } from '../../domain/catalogue';
import { coverage } from '../../domain/coverage';
import { cancelProcessSignal, type CancelRequest, type ProcessStart } from '../../workflows/definitions';
import type { TemporalHandle } from '../../temporal/client';
import { isProcessKey, PROCESS_WORKFLOWS, processIdFor, startProcessWorkflow, type ProcessKey } from '../../temporal/start';
import { badRequest, conflict, fieldErrors, notFound, Problem, unprocessable } from '../errors';
import { authorize } from './authorize';
import { countProcessStarted } from '../observability';
import { resolveRunbookStart } from './runbooks';
import { refuseContractProcessCancel } from './contracts';

export interface StartRequest {
  type: string;
  businessKey: string;
  input: unknown;
}

/**
 * Per-type start hooks, for types whose run depends on more than the catalogue entry: given
 * the request's input, they read what they need and return the definition coverage checks
 * and the input the workflow gets (validated by that definition's input schema).
 */
export type StartResolver = (db: Kysely<Schema>, input: unknown) => Promise<{ definition: ProcessDefinition; input: unknown }>;

const START_RESOLVERS: Readonly<Record<string, StartResolver>> = {
  runbook: resolveRunbookStart,
};

interface StartPlan {
  contract: ContractWithParties;
  processKey: ProcessKey;
  input: unknown;
}

const STARTABLE: readonly ContractStatus[] = ['active', 'transition'];

/** Every check of a start against one reading of the contract; throws the problem the caller gets. */
async function planStart(db: Kysely<Schema>, principal: Principal, contractId: string, contract: ContractWithParties | undefined, request: StartRequest): Promise<StartPlan> {
  if (!contract || !contract.party_ids.includes(principal.partyId)) throw notFound(`contract ${contractId}`);
  authorize(mayStartProcess({ actor: principal, contract: { providerId: contract.provider_id, clientId: contract.client_id } }));
  if (!STARTABLE.includes(contract.status)) {
    throw unprocessable('contract-not-active', 'Contract not active', `contract ${contractId} is ${contract.status}: processes run only under an active contract`);
  }
  const processKey = request.type;
  const definition = getProcess(processKey);
  if (!definition || !isProcessKey(processKey)) {
    throw unprocessable('unknown-process', 'Unknown process type', `"${request.type}" is not a process of the catalogue`, { known: Object.keys(PROCESS_WORKFLOWS) });
  }
  const document = await getParsedContractVersion(db, contractId, contract.current_version);
  if (!document) throw new Error(`contract ${contractId} v${contract.current_version} is missing`);
  // A type with a start hook resolves what it runs first (a runbook: its pinned version),
  // and coverage checks that resolved definition in place of the catalogue entry.
  const resolved = Object.hasOwn(START_RESOLVERS, request.type) ? await START_RESOLVERS[request.type]!(db, request.input) : { definition, input: request.input };
  const covered = coverage(document, request.type, { ...PROCESSES, [request.type]: resolved.definition });
  if (!covered.covered) {
    throw unprocessable('not-covered', 'Not covered by the contract', `contract ${contractId} does not cover ${request.type}`, {
      missingServices: covered.missingServices,
      missingActivities: covered.missingActivities,
      unknownProcesses: covered.unknownProcesses,
    });
  }
  const input = resolved.definition.input.safeParse(resolved.input);
  if (!input.success) throw badRequest(`the input of ${request.type} is invalid`, fieldErrors(input.error, 'body.input'));
  if (processKey === 'patch-cycle') refuseUndecidedException(principal, contract, input.data as PatchCycleInput);
  return { contract, processKey, input: input.data };
}

/**
 * A patch cycle outside the contract's windows or with other durations is an exception to the
 * contract: an emergency change the policy's emergency approver signs off, decided by an
 * operator of the provider, with its reason (the workflow journals it as `change.exception`).
 * Anyone else asking for it in a start body is refused, naming the field.
 */
function refuseUndecidedException(principal: Principal, contract: ContractWithParties, input: PatchCycleInput): void {
  const asked = (['windowOverride', 'durations'] as const).filter((f) => input[f] !== undefined);
  if (asked.length > 0) {
    const verdict = mayDecideChangeException({ actor: principal, contract: { providerId: contract.provider_id } });
    if (!verdict.ok) {
      throw new Problem(403, 'forbidden', 'Forbidden', verdict.reason, { errors: asked.map((f) => ({ path: `body.input.${f}`, message: "an emergency-change decision of the provider's operators" })) });
    }
  }
  const errors = changeExceptionErrors(input);
  if (errors.length > 0) throw badRequest('an exception to the contract is an emergency change, with its reason', errors.map((e) => ({ path: `body.input.${e.path}`, message: e.message })));
}

export async function startProcess(
  deps: { db: Kysely<Schema>; temporal: TemporalHandle },
  principal: Principal,
  contractId: string,
  request: StartRequest,
): Promise<{ process: ProcessRow; created: boolean }> {
  const { db, temporal } = deps;
  const id = processIdFor(contractId, request.type, request.businessKey);
  const registration = (contract: ContractWithParties) => ({
    id,
    contractId,
    contractVersion: contract.current_version,
    processType: request.type,
    businessKey: request.businessKey,
    requestedBy: principal.userId!,
    requestedByParty: principal.partyId,
  });
  // Fast path: checked against the cached contract row, inserted under a guard that re-reads
  // it. Anything unusual (no hint, a check failing, the guard or the business key refusing
  // the insert) goes the slow way, whose reading of the contract is the one that answers.
  let plan: StartPlan | undefined;
  let registered: { process: ProcessRow; created: boolean } | undefined;
  const hint = contractHint(db, contractId);
  if (hint) {
    plan = await planStart(db, principal, contractId, hint, request).catch(() => undefined);
    const inserted = plan && (await registerProcessUnderContract(db, registration(plan.contract), { statuses: STARTABLE, providerId: hint.provider_id, clientId: hint.client_id }));
    if (inserted) registered = { process: inserted, created: true };
  }
  if (!plan || !registered) {
    plan = await planStart(db, principal, contractId, await readContract(db, contractId), request);
    registered = await registerProcess(db, registration(plan.contract));
  }
  // The database row outlives Temporal's retention: a finished process is never run again.
  if (registered.process.status !== 'running') return registered;

  const start: ProcessStart = {
    contractId,
    version: registered.process.contract_version,
    processType: plan.processKey,
    businessKey: request.businessKey,
    requestedBy: { userId: registered.process.requested_by, partyId: registered.process.requested_by_party },
    // Checked by the definition's input schema in planStart.
    input: plan.input,
  };
  await startProcessWorkflow(temporal.client, plan.processKey, start, { taskQueue: temporal.taskQueue, clientId: plan.contract.client_id });
  if (registered.created) countProcessStarted(request.type);
  return registered;
}

/** Cancelling is for operators of the provider or of the client; the process journals who and why. */
export async function cancelProcess(
  deps: { db: Kysely<Schema>; temporal: TemporalHandle },
  principal: Principal,
  process: ProcessRow,
  contract: { provider_id: string; client_id: string },
  reason: string,
): Promise<ProcessRow> {
  authorize(mayCancelProcess({ actor: principal, contract: { providerId: contract.provider_id, clientId: contract.client_id } }));
  if (process.status !== 'running') throw conflict(`process ${process.id} is ${process.status}: only a running process is cancelled`, { status: process.status });
  await refuseContractProcessCancel(deps.db, process);
  const handle = deps.temporal.client.workflow.getHandle(process.id);
  const request: CancelRequest = { reason, userId: principal.userId!, partyId: principal.partyId };
  try {
    await handle.signal(cancelProcessSignal, request);
    await handle.cancel();
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
    // The run ended between the read and the signal: the index catches up on its own.
    throw conflict(`process ${process.id} is no longer running`, { status: (await getProcessRow(deps.db, process.id))?.status ?? process.status });
  }
  return (await getProcessRow(deps.db, process.id)) ?? process;
}
