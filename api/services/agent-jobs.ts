// Party agents' side of agent steps (docs/ARCHITECTURE.md "Agents"): an agent of R's party takes an
// offered job (the process is signalled), heartbeats (relayed to the engine activity with
// its task token) and posts its result once (recorded, then the activity is completed).
// Agents never reach Temporal; every answer here is about jobs of the caller's party only.
import { setTimeout as sleep } from 'node:timers/promises';
import { ActivityCancelledError, ActivityNotFoundError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Principal } from '../../db/api-keys';
import type { AgentJobRow, Schema } from '../../db/schema';
import { finishAgentJob, getAgentJob, listSilentPickups, releaseAgentJob, releaseSilentPickup, takeAgentJob, touchAgentJob, withdrawAgentJobs } from '../../db/agent-jobs';
import { getProcess } from '../../db/processes';
import { getContractVersion } from '../../db/contracts';
import { elapsedMs } from '../../domain/deadline';
import { isoSeconds, jsonBytes, RESULT_OUTPUT_LIMIT_BYTES, type AgentJob, type AgentResult, type HeartbeatAnswer } from '../../agent/protocol';
import { agentJobPickedUpSignal } from '../../workflows/definitions';
import { mayActAsAgent } from '../../domain/authorization';
import { findUnstorable } from '../../db/storable';
import { badRequest, conflict, notFound, Problem } from '../errors';
import { authorize } from './authorize';
import { crashPoint } from '../../worker/crash-points';

export interface AgentJobDeps {
  db: Kysely<Schema>;
  client: Client;
  log: Logger;
  /** How often a long poll looks at the table (default 500 ms). */
  pollIntervalMs?: number;
}

// Same default as workflows/step.ts: a row without heartbeatWithin.
const DEFAULT_HEARTBEAT_WITHIN = 'PT1M';
const MIN_HEARTBEAT_EVERY_MS = 500;

/** The agent behind the key, or 403: the agent routes are for agent keys only. */
export function requireAgent(principal: Principal): string {
  authorize(mayActAsAgent(principal));
  return principal.agentId!;
}

/** A job of the caller's party, or 404 (another party's job does not exist for it). */
async function jobOfParty(db: Kysely<Schema>, principal: Principal, jobId: string): Promise<AgentJobRow> {
  const job = await getAgentJob(db, jobId);
  if (!job || job.party_id !== principal.partyId) throw notFound(`agent job ${jobId}`);
  return job;
}

/**
 * Takes the oldest offered job of the agent's party, waiting up to `waitMs` for one.
 * Taking signals the process; a process that is gone withdraws its job and the next one is tried.
 */
export async function pollAgentJob(deps: AgentJobDeps, principal: Principal, waitMs: number, signal: AbortSignal): Promise<AgentJob | undefined> {
  const agentId = requireAgent(principal);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const job = await takeAndTell(deps, principal.partyId, agentId);
    if (job) {
      // The agent left while the job was being taken: put it back rather than lose a heartbeat timeout.
      if (signal.aborted) {
        await releaseAgentJob(deps.db, job.id, agentId);
        return undefined;
      }
      return { ...jobView(job), heartbeatEvery: isoSeconds(await heartbeatEveryMs(deps.db, job)) };
    }
    const left = deadline - Date.now();
    if (left <= 0 || signal.aborted) return undefined;
    try {
      await sleep(Math.min(left, deps.pollIntervalMs ?? 500), undefined, { signal });
    } catch {
      return undefined; // the agent went away
    }
  }
}

async function takeAndTell(deps: AgentJobDeps, partyId: string, agentId: string): Promise<AgentJobRow | undefined> {
  for (;;) {
    const job = await takeAgentJob(deps.db, { partyId, agentId });
    if (!job) return undefined;
    // The chaos test dies here: taken in the database, the process never told (reofferSilentPickups).
    crashPoint('agent.taken');
    try {
      await deps.client.workflow.getHandle(job.process_id).signal(agentJobPickedUpSignal, { jobId: job.id, agentId });
      return job;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) {
        deps.log.warn({ jobId: job.id, processId: job.process_id }, 'agent job of a process that is gone: withdrawn');
        await withdrawAgentJobs(deps.db, [job.id]);
        continue;
      }
      // The process could not be told: the job goes back on offer, the agent asks again.
      await releaseAgentJob(deps.db, job.id, agentId);
      deps.log.warn({ jobId: job.id, err: (err as Error).message }, 'agent pickup could not be signalled');
      throw unavailable('the engine could not be told of the pickup: ask again later');
    }
  }
}

function jobView(job: AgentJobRow): Omit<AgentJob, 'heartbeatEvery'> {
  return {
    id: job.id,
    action: job.action,
    params: (job.params ?? {}) as Record<string, unknown>,
    idempotencyKey: job.idempotency_key,
    processId: job.process_id,
    stepKey: job.step_key,
  };
}

/**
 * A third of the step's heartbeatWithin (the shortest of R's agent rows for the step, in
 * the contract version the process runs), so a late heartbeat or two is not fatal.
 */
async function heartbeatEveryMs(db: Kysely<Schema>, job: AgentJobRow): Promise<number> {
  const within = await heartbeatWithin(db, job).catch(() => DEFAULT_HEARTBEAT_WITHIN);
  return Math.max(MIN_HEARTBEAT_EVERY_MS, Math.floor(elapsedMs(within) / 3));
}

async function heartbeatWithin(db: Kysely<Schema>, job: AgentJobRow): Promise<string> {
  const process = await getProcess(db, job.process_id);
  const version = process && (await getContractVersion(db, process.contract_id, process.contract_version));
  const entry = (version?.document as { responsibilities?: Record<string, unknown> } | undefined)?.responsibilities?.[job.step_key];
  type AgentRow = { R?: { party?: string; by?: string }; heartbeatWithin?: string };
  const rows = (Array.isArray(entry) ? entry : [entry]) as (AgentRow | undefined)[];
  const durations = rows
    .filter((row) => row?.R?.party === job.party_id && row.R.by === 'agent')
    .map((row) => row?.heartbeatWithin ?? DEFAULT_HEARTBEAT_WITHIN);
  return durations.sort((a, b) => elapsedMs(a) - elapsedMs(b))[0] ?? DEFAULT_HEARTBEAT_WITHIN;
}

/** No step waits less than this for a heartbeat: a younger silence is never looked at. */
const MIN_SILENCE_MS = 1000;

/**
 * A pickup the process never heard of: the API took the job for an agent (the row says
 * running) and died before its signal reached the process, or before its answer reached the
 * agent. The process waits for a pickup that will never come and the agent for a job it never
 * got; no engine activity waits on the job, so no heartbeat timeout offers it again. A job
 * running without a task token whose agent has been silent for the step's heartbeatWithin is
 * offered again here, as the engine offers a job whose agent went silent: the idempotency key
 * stays, so the action acts once. A live agent heartbeats (the row's heartbeat_at) even before
 * the engine's activity attaches, so it is never taken from it. Returns the jobs offered again.
 */
export async function reofferSilentPickups(deps: Pick<AgentJobDeps, 'db' | 'log'>): Promise<string[]> {
  const released: string[] = [];
  for (const job of await listSilentPickups(deps.db, MIN_SILENCE_MS)) {
    const silentMs = elapsedMs(await heartbeatWithin(deps.db, job).catch(() => DEFAULT_HEARTBEAT_WITHIN));
    if (!(await releaseSilentPickup(deps.db, job.id, silentMs))) continue;
    deps.log.warn({ jobId: job.id, processId: job.process_id, agentId: job.agent_id, silentMs }, 'agent job taken but never attached to the process, its agent silent: offered again');
    released.push(job.id);
  }
  return released;
}

/** The serialization context of a job's engine activity: payloads sent by task token are bound to its process. */
function boundTo(deps: AgentJobDeps, processId: string) {
  return { serializationContext: { type: 'activity' as const, namespace: deps.client.options.namespace, workflowId: processId, isLocal: false } };
}

/** Relays a heartbeat to the engine activity; 409 tells the agent to stop. */
export async function heartbeatAgentJob(deps: AgentJobDeps, principal: Principal, jobId: string, details: unknown): Promise<HeartbeatAnswer> {
  const agentId = requireAgent(principal);
  const job = await jobOfParty(deps.db, principal, jobId);
  const touched = await touchAgentJob(deps.db, jobId, agentId);
  if (!touched) throw notYours(job, agentId);
  // The engine activity has not started yet (it starts right after the pickup signal).
  if (!touched.task_token) return { cancelRequested: false };
  try {
    await deps.client.activity.heartbeat(tokenBytes(touched.task_token), details, boundTo(deps, job.process_id));
    return { cancelRequested: false };
  } catch (err) {
    if (err instanceof ActivityCancelledError) return { cancelRequested: true };
    if (err instanceof ActivityNotFoundError) throw attemptGone(jobId);
    deps.log.warn({ jobId, err: (err as Error).message }, 'agent heartbeat could not be relayed');
    throw unavailable('the heartbeat could not be relayed to the engine: keep working and heartbeat again');
  }
}

export type ResultDelivery = { status: 'succeeded' | 'failed'; delivered: boolean };

/**
 * Records the agent's result once, then completes (or fails) the engine activity with its
 * task token. Without a token yet the result is only recorded: the activity returns it when
 * it starts. A second result, or one after the step moved on, is 409 and changes nothing.
 */
export async function postAgentResult(deps: AgentJobDeps, principal: Principal, jobId: string, result: AgentResult): Promise<ResultDelivery> {
  const agentId = requireAgent(principal);
  const job = await jobOfParty(deps.db, principal, jobId);
  if (result.ok && jsonBytes(result.output) > RESULT_OUTPUT_LIMIT_BYTES) {
    throw new Problem(413, 'too-large', 'Result output too large', `the output exceeds ${RESULT_OUTPUT_LIMIT_BYTES} bytes of JSON: post a failure or a smaller output`, { limitBytes: RESULT_OUTPUT_LIMIT_BYTES });
  }
  refuseUnstorableResult(result);
  if (job.status !== 'running' || job.agent_id !== agentId) throw notYours(job, agentId);
  // The attempt this token belongs to may have timed out (the job is about to be offered again).
  if (job.task_token && !(await attemptAlive(deps, job.task_token))) throw attemptGone(jobId);

  const recorded = await finishAgentJob(deps.db, jobId, result.ok ? result : { ok: false, reason: result.reason, retryable: result.retryable ?? false }, { agentId });
  if (!recorded) {
    const now = await getAgentJob(deps.db, jobId);
    throw notYours(now ?? job, agentId);
  }
  const status = result.ok ? 'succeeded' : 'failed';
  if (!recorded.task_token) return { status, delivered: false };
  try {
    const token = tokenBytes(recorded.task_token);
    // The result is encrypted for the job's process (temporal/codec.ts): the token alone does not say which.
    if (result.ok) await deps.client.activity.complete(token, result.output, boundTo(deps, job.process_id));
    else await deps.client.activity.fail(token, ApplicationFailure.create({ message: result.reason, type: 'AgentActionFailed', nonRetryable: !(result.retryable ?? false) }), boundTo(deps, job.process_id));
    return { status, delivered: true };
  } catch (err) {
    // Recorded: a retry of the activity reads the row (awaitAgentResult) instead of re-offering.
    deps.log.warn({ jobId, err: (err as Error).message }, 'agent result recorded but not delivered');
    return { status, delivered: false };
  }
}

/**
 * A result is stored, then journaled by the step: one PostgreSQL cannot store (NUL, an unpaired
 * surrogate) is refused here, whoever calls, rather than failing the step's writes forever.
 */
function refuseUnstorableResult(result: AgentResult): void {
  const issues = findUnstorable(result.ok ? { output: result.output } : { reason: result.reason });
  if (issues.length === 0) return;
  throw badRequest('the result holds text that cannot be stored (NUL or an unpaired surrogate): post a failure or a clean output', issues.map((i) => ({ path: ['body', ...i.path.map(String)].join('.'), message: i.message })));
}

async function attemptAlive(deps: AgentJobDeps, token: string): Promise<boolean> {
  try {
    await deps.client.activity.heartbeat(tokenBytes(token));
    return true;
  } catch (err) {
    if (err instanceof ActivityNotFoundError) return false;
    return true; // cancelled or unreachable: record, delivery tells the rest
  }
}

function tokenBytes(token: string): Uint8Array {
  return new Uint8Array(Buffer.from(token, 'base64'));
}

function notYours(job: AgentJobRow, agentId: string): Problem {
  const why = job.status === 'running' && job.agent_id !== agentId
    ? 'was taken by another agent after this one went silent'
    : job.status === 'offered' ? 'is offered again (this agent went silent)' : `is ${job.status}`;
  return conflict(`agent job ${job.id} ${why}: stop working on it`, { jobStatus: job.status });
}

function attemptGone(jobId: string): Problem {
  return conflict(`the engine no longer waits for this attempt of agent job ${jobId} (heartbeat timeout): stop working on it`, { jobStatus: 'running' });
}

function unavailable(detail: string): Problem {
  return new Problem(503, 'unavailable', 'Service unavailable', detail);
}
