// Every start of a Mandate process run, from one place: the API's start, an incident opened by
// an alert (signalWithStart) or by a process (the openIncident activity), a contract schedule's action.
// Here the workflow id, the task queue, the id policies and the search attributes are written
// once, and the workflow function types the start's arguments.
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
  type Client,
  type ScheduleOptionsStartWorkflowAction,
  type WorkflowStartOptions,
} from '@temporalio/client';
import type { SearchAttributePair } from '@temporalio/common';
// Types only: the API and the activities never load workflow code.
import type * as workflows from '../workflows/index';
import { incidentAlertSignal, type IncidentAlert, type ProcessStart } from '../workflows/definitions';
import { MandateClient, MandateContract, MandateProcess, MandateStatus } from '../workflows/search-attributes';

type Workflows = typeof workflows;

/** Process key (catalogue, API, contract schedules) → the workflow function that runs it. */
export const PROCESS_WORKFLOWS = Object.freeze({
  'employee-onboarding': 'employeeOnboarding',
  incident: 'incident',
  runbook: 'runbookInterpreter',
  backup: 'backupRun',
  'restore-test': 'restoreTest',
  'patch-cycle': 'patchCycle',
} as const satisfies Record<string, keyof Workflows>);

export type ProcessKey = keyof typeof PROCESS_WORKFLOWS;
export type WorkflowOf<K extends ProcessKey> = Workflows[(typeof PROCESS_WORKFLOWS)[K]];
/** What the workflow of process K starts with. */
export type StartOf<K extends ProcessKey> = Parameters<WorkflowOf<K>>[0];

export function isProcessKey(key: string): key is ProcessKey {
  return Object.hasOwn(PROCESS_WORKFLOWS, key);
}

/** A process run's workflow id: one run per business key of a process under a contract. */
export function processIdFor(contractId: string, processKey: string, businessKey: string): string {
  return `mandate:${contractId}:${processKey}:${businessKey}`;
}

/** Where a run goes (the engine's task queue) and whose it is (the contract's client, for search). */
export interface RunPlace {
  taskQueue: string;
  clientId: string;
}

/** What Temporal's own tools (CLI, UI) list Mandate processes by. */
export function processSearchAttributes(contractId: string, processKey: string, clientId: string): SearchAttributePair[] {
  return [
    { key: MandateContract, value: contractId },
    { key: MandateClient, value: clientId },
    { key: MandateProcess, value: processKey },
    { key: MandateStatus, value: 'running' },
  ];
}

/** The options every run of process `key` starts with (without the id policies, which depend on how it starts). */
export function processStartOptions<K extends ProcessKey>(key: K, start: StartOf<K>, place: RunPlace): WorkflowStartOptions<WorkflowOf<K>> {
  if (start.processType !== key) throw new Error(`a start of ${start.processType} given as ${key}`);
  // Every Mandate workflow takes its ProcessStart alone; TypeScript cannot see through the generic key.
  const args = [start] as unknown as Parameters<WorkflowOf<K>>;
  return {
    workflowId: processIdFor(start.contractId, key, start.businessKey),
    taskQueue: place.taskQueue,
    args,
    typedSearchAttributes: processSearchAttributes(start.contractId, key, place.clientId),
  } as WorkflowStartOptions<WorkflowOf<K>>;
}

/**
 * Starts the run of `key` for its business key, or attaches to the one running (a retry after a
 * crash between the process row's insert and the start). A run that already ended stays ended:
 * the process row says how, and outlives Temporal's retention.
 */
export async function startProcessWorkflow<K extends ProcessKey>(client: Client, key: K, start: StartOf<K>, place: RunPlace): Promise<void> {
  try {
    await client.workflow.start<WorkflowOf<K>>(PROCESS_WORKFLOWS[key], {
      ...processStartOptions(key, start, place),
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}

/**
 * Adds a monitoring alert to the running incident of its business key, opening the incident
 * first if none runs. An incident that already ended refuses (WorkflowExecutionAlreadyStartedError):
 * the caller opens the next key.
 */
export async function signalWithStartIncident(client: Client, start: StartOf<'incident'>, place: RunPlace, alert: IncidentAlert): Promise<void> {
  await client.workflow.signalWithStart<WorkflowOf<'incident'>, [IncidentAlert]>(PROCESS_WORKFLOWS.incident, {
    ...processStartOptions('incident', start, place),
    signal: incidentAlertSignal,
    signalArgs: [alert],
    workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
  });
}

/** Any Mandate workflow, as a schedule sees it: the schedule names it by its type. */
type ProcessWorkflow = (start: ProcessStart) => Promise<unknown>;

/**
 * The start action of a contract schedule's runs. Temporal appends `-<scheduled time>` to the
 * workflow id: mandate:<contract>:<process>:scheduled-2027-03-08T01:00:00Z; the run derives its
 * business key from that time.
 */
export function scheduledRunAction(
  workflowType: string,
  start: ProcessStart,
  place: RunPlace,
  memo: Record<string, unknown>,
): ScheduleOptionsStartWorkflowAction<ProcessWorkflow> {
  return {
    type: 'startWorkflow',
    workflowType,
    taskQueue: place.taskQueue,
    workflowId: processIdFor(start.contractId, start.processType, 'scheduled'),
    args: [start],
    memo,
    typedSearchAttributes: processSearchAttributes(start.contractId, start.processType, place.clientId),
  };
}

/** Mandate's own processes over a contract (workflows/contract.ts): started by the contract services, never by a start body. */
export const CONTRACT_WORKFLOWS = Object.freeze({
  'contract-proposal': 'contractProposal',
  'contract-exit': 'contractExit',
} as const satisfies Record<string, keyof Workflows>);
export type ContractProcessKey = keyof typeof CONTRACT_WORKFLOWS;

/** Like startProcessWorkflow, for a contract process: one run per business key, a run that ended stays ended. */
export async function startContractWorkflow(client: Client, key: ContractProcessKey, start: ProcessStart, place: RunPlace): Promise<void> {
  if (start.processType !== key) throw new Error(`a start of ${start.processType} given as ${key}`);
  try {
    await client.workflow.start(CONTRACT_WORKFLOWS[key], {
      workflowId: processIdFor(start.contractId, key, start.businessKey),
      taskQueue: place.taskQueue,
      args: [start],
      typedSearchAttributes: processSearchAttributes(start.contractId, key, place.clientId),
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}
