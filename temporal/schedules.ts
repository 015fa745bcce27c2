// Keeps a contract's Temporal Schedules equal to its `schedules:` (docs/ARCHITECTURE.md "Recurring
// work"): created on activation, updated on amendment, deleted on termination. The hash
// lives in the action's memo: a schedule's own memo cannot be changed by an update.
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdReusePolicy,
  type Client,
  type ScheduleDescription,
  type ScheduleHandle,
} from '@temporalio/client';
import type { Logger } from 'pino';
import type { Contract } from '../domain/contract';
import { scheduledStartOf, scheduleIdFor, scheduleIdPrefix, schedulesOf, type ContractSchedule } from '../domain/schedules';
import { MandateContract } from '../workflows/search-attributes';
import type { ProcessStart } from '../workflows/definitions';
import { PROCESS_WORKFLOWS, processIdFor, scheduledRunAction } from './start';
import { signerOf } from './signing';

export interface SyncInput {
  client: Client;
  taskQueue: string;
  contract: Pick<Contract, 'id' | 'parties' | 'schedules' | 'maintenanceWindows'>;
  contractVersion: number;
  log?: Pick<Logger, 'info' | 'warn'>;
  /** Process key → workflow type; defaults to PROCESS_WORKFLOWS (tests pass their own). */
  workflowTypes?: Readonly<Record<string, string>>;
}

/** Schedule ids by outcome; `skipped` names schedules whose process has no workflow type (left as they are). */
export interface SyncResult {
  created: string[];
  updated: string[];
  deleted: string[];
  unchanged: string[];
  skipped: string[];
}

/** What the action's memo (and so every scheduled run's memo) carries. */
export interface ScheduleMemo {
  specHash: string;
  contractVersion: number;
  schedule: string;
}

const quote = (s: string) => `'${s.replaceAll("'", "\\'")}'`;

/** Ids of the contract's schedules, from visibility (eventually consistent: seconds behind a create). */
export async function listContractScheduleIds(client: Client, contractId: string): Promise<string[]> {
  const prefix = scheduleIdPrefix(contractId);
  const ids: string[] = [];
  // Ids only, from the raw service: nothing is decoded, so a schedule whose memo this node
  // cannot decode (encrypted under keys it does not hold) never stops the listing.
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await client.workflowService.listSchedules({ namespace: client.options.namespace, query: `ScheduleId STARTS_WITH ${quote(prefix)}`, maximumPageSize: 1000, ...(nextPageToken && { nextPageToken }) });
    for (const s of page.schedules ?? []) if (s.scheduleId?.startsWith(prefix)) ids.push(s.scheduleId);
    nextPageToken = page.nextPageToken && page.nextPageToken.length > 0 ? page.nextPageToken : undefined;
  } while (nextPageToken);
  return ids;
}

function actionOf(input: SyncInput, s: ContractSchedule, workflowType: string) {
  const start = scheduledStartOf(input.contract, input.contractVersion, s);
  const clientId = input.contract.parties.find((p) => p.kind === 'client')?.id ?? '';
  const memo: ScheduleMemo = { specHash: s.specHash, contractVersion: input.contractVersion, schedule: s.name };
  // Signed for the schedule's workflow id (the run strips the time Temporal appends): temporal/signing.ts.
  const signer = signerOf(input.client);
  const signed = signer ? signer.signStart(start, processIdFor(start.contractId, start.processType, 'scheduled')) : start;
  return scheduledRunAction(workflowType, signed, { taskQueue: input.taskQueue, clientId }, { ...memo });
}

const policiesOf = (s: ContractSchedule) => ({ overlap: s.overlapPolicy, catchupWindow: s.catchupWindowMs });
const specOf = (s: ContractSchedule) => ({ calendars: s.calendars, timezone: s.timezone });

function isCurrent(d: ScheduleDescription, s: ContractSchedule, workflowType: string, taskQueue: string): boolean {
  const memo = d.action.memo as Partial<ScheduleMemo> | undefined;
  return memo?.specHash === s.specHash && d.action.workflowType === workflowType && d.action.taskQueue === taskQueue;
}

async function describeOrUndefined(handle: ScheduleHandle): Promise<ScheduleDescription | undefined> {
  try {
    return await handle.describe();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return undefined;
    throw err;
  }
}

/**
 * Creates missing schedules, updates those whose hash (or workflow type, or task queue)
 * differs, deletes those the contract no longer has. With no change it only reads: one
 * list and one describe per schedule, no write.
 */
export async function syncContractSchedules(input: SyncInput): Promise<SyncResult> {
  const { client, contract, log } = input;
  const types: Readonly<Record<string, string>> = input.workflowTypes ?? PROCESS_WORKFLOWS;
  const result: SyncResult = { created: [], updated: [], deleted: [], unchanged: [], skipped: [] };
  const listed = new Set(await listContractScheduleIds(client, contract.id));
  const wanted = new Set<string>();

  for (const s of schedulesOf(contract)) {
    wanted.add(s.id);
    const workflowType = Object.hasOwn(types, s.process) ? types[s.process] : undefined;
    if (!workflowType) {
      log?.warn({ scheduleId: s.id, process: s.process }, 'schedule skipped: no workflow runs this process');
      result.skipped.push(s.id);
      continue;
    }
    const handle = client.schedule.getHandle(s.id);
    // Not listed: most likely new, so create first; a list lagging behind falls back to describe.
    if (!listed.has(s.id) && (await createSchedule(input, s, workflowType))) {
      result.created.push(s.id);
      continue;
    }
    const current = await describeOrUndefined(handle);
    if (!current) {
      await createSchedule(input, s, workflowType);
      result.created.push(s.id);
    } else if (isCurrent(current, s, workflowType, input.taskQueue)) {
      result.unchanged.push(s.id);
    } else {
      // Pause state and note are the operators', not the contract's: kept as they are.
      await handle.update((prev) => ({
        spec: specOf(s),
        action: actionOf(input, s, workflowType),
        policies: policiesOf(s),
        state: { paused: prev.state.paused, note: prev.state.note, remainingActions: prev.state.remainingActions },
      }));
      result.updated.push(s.id);
    }
  }

  for (const id of listed) {
    if (wanted.has(id)) continue;
    // A list lagging behind may still show a schedule deleted moments ago.
    if (await deleteQuietly(client.schedule.getHandle(id))) result.deleted.push(id);
  }
  if (result.created.length + result.updated.length + result.deleted.length > 0) {
    log?.info({ contractId: contract.id, contractVersion: input.contractVersion, ...counts(result) }, 'contract schedules synced');
  }
  return result;
}

export const counts = (r: SyncResult) => ({
  created: r.created.length,
  updated: r.updated.length,
  deleted: r.deleted.length,
  unchanged: r.unchanged.length,
  skipped: r.skipped.length,
});

/** False when the schedule already exists. */
async function createSchedule(input: SyncInput, s: ContractSchedule, workflowType: string): Promise<boolean> {
  try {
    await input.client.schedule.create({
      scheduleId: s.id,
      spec: specOf(s),
      action: actionOf(input, s, workflowType),
      policies: policiesOf(s),
      // Written once: a schedule's memo survives updates unchanged (the action's memo is current).
      memo: { specHash: s.specHash, contractVersion: input.contractVersion, schedule: s.name } satisfies ScheduleMemo,
      typedSearchAttributes: [{ key: MandateContract, value: input.contract.id }],
    });
    return true;
  } catch (err) {
    if (err instanceof ScheduleAlreadyRunning) return false;
    throw err;
  }
}

/** False when it was already gone. */
async function deleteQuietly(handle: ScheduleHandle): Promise<boolean> {
  try {
    await handle.delete();
    return true;
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return false;
    throw err;
  }
}

/** On termination: every schedule of the contract, including ones the list has not seen yet. */
export async function deleteContractSchedules(opts: { client: Client; contract: Pick<Contract, 'id' | 'schedules'>; log?: Pick<Logger, 'info'> }): Promise<string[]> {
  const ids = new Set([...(await listContractScheduleIds(opts.client, opts.contract.id)), ...Object.keys(opts.contract.schedules).map((n) => scheduleIdFor(opts.contract.id, n))]);
  const deleted: string[] = [];
  for (const id of ids) if (await deleteQuietly(opts.client.schedule.getHandle(id))) deleted.push(id);
  opts.log?.info({ contractId: opts.contract.id, deleted: deleted.length }, 'contract schedules deleted');
  return deleted;
}

const handleOf = (client: Client, contractId: string, name: string) => client.schedule.getHandle(scheduleIdFor(contractId, name));

export async function pauseSchedule(client: Client, contractId: string, name: string, note: string): Promise<void> {
  await handleOf(client, contractId, name).pause(note);
}

export async function resumeSchedule(client: Client, contractId: string, name: string, note = 'resumed'): Promise<void> {
  await handleOf(client, contractId, name).unpause(note);
}

/** Runs the action now; the run's business key comes from now (a period or day already run dedupes). */
export async function triggerSchedule(client: Client, contractId: string, name: string): Promise<void> {
  await handleOf(client, contractId, name).trigger();
}

/**
 * Runs the schedule's action now on behalf of a person (issue 12 point 11): the run is started
 * with the schedule's own action and arguments, but the person as its requester, so four-eyes
 * and the journal see who asked (a Temporal trigger would run it as `schedule:<name>`). The
 * workflow id is the one Temporal gives a scheduled run (`…:scheduled-<instant>`) and the run
 * takes its business key from now, so a period or day already run is still not run twice.
 * The schedule's overlap policy is not consulted: the registration's business key is the guard.
 * Undefined when the schedule does not exist.
 */
export async function triggerScheduleAs(client: Client, contractId: string, name: string, requestedBy: { userId: string; partyId: string }, now = new Date()): Promise<{ workflowId: string } | undefined> {
  const described = await describeOrUndefined(handleOf(client, contractId, name));
  if (!described) return undefined;
  const action = described.action;
  if (action.type !== 'startWorkflow') throw new Error(`schedule ${name} of ${contractId} does not start a workflow`);
  const scheduled = action.args?.[0] as ProcessStart | undefined;
  if (!scheduled || scheduled.businessKey !== '') throw new Error(`schedule ${name} of ${contractId} has no scheduled start`);
  const workflowId = `${action.workflowId}-${now.toISOString().replace(/\.\d{3}Z$/, 'Z')}`;
  const start: ProcessStart = { ...scheduled, requestedBy };
  try {
    await client.workflow.start(action.workflowType, {
      workflowId,
      taskQueue: action.taskQueue,
      args: [start],
      ...(action.memo !== undefined && { memo: action.memo }),
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    });
  } catch (err) {
    // Asked twice within one second: the first run is the one.
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
  return { workflowId };
}

/** Undefined when the schedule does not exist (not synced yet, or deleted). */
export async function describeSchedule(client: Client, contractId: string, name: string): Promise<ScheduleDescription | undefined> {
  return describeOrUndefined(handleOf(client, contractId, name));
}
