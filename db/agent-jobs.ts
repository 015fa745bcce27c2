// Jobs for party agents: offered by a process step, taken by an agent of the step's R
// party through the API, completed through the engine activity's task token.
import { sql, type Kysely } from 'kysely';
import { jsonb } from './json';
import type { AgentJobRow, Schema } from './schema';

/** A job offered to the agents of R's party (docs/ARCHITECTURE.md "Agents"). */
export interface AgentJobInput {
  id: string;
  processId: string;
  stepKey: string;
  partyId: string;
  action: string;
  params: Record<string, unknown>;
  /** process + step (+ asset): the same on every attempt, so an action never acts twice. */
  idempotencyKey: string;
  pickupDeadlineAt?: string;
}

/** Offers jobs; the idempotency key is unique, so a replayed offer writes nothing. */
export async function offerAgentJobs(db: Kysely<Schema>, jobs: AgentJobInput[]): Promise<void> {
  if (jobs.length === 0) return;
  await db
    .insertInto('agent_jobs')
    .values(jobs.map((j) => ({
      id: j.id,
      process_id: j.processId,
      step_key: j.stepKey,
      party_id: j.partyId,
      action: j.action,
      params: jsonb(j.params),
      idempotency_key: j.idempotencyKey,
      pickup_deadline_at: j.pickupDeadlineAt ?? null,
    })))
    .onConflict((oc) => oc.column('idempotency_key').doNothing())
    .execute();
}

/** No step waits for these any more: an agent asking about them is told so. */
export async function withdrawAgentJobs(db: Kysely<Schema>, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable('agent_jobs')
    .set({ status: 'withdrawn', finished_at: sql<Date>`now()` })
    .where('id', 'in', ids)
    .where('status', 'in', ['offered', 'running'])
    .execute();
}

/**
 * Offers jobs again whose agent went silent or reported a retryable failure: any agent of the
 * party may take them; a result that arrived meanwhile is kept (the next wait returns it).
 */
export async function reofferAgentJobs(db: Kysely<Schema>, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable('agent_jobs')
    .set({ status: 'offered', agent_id: null, picked_at: null, heartbeat_at: null, task_token: null, reason: null })
    .where('id', 'in', ids)
    .where((eb) => eb.or([eb('status', '=', 'running'), eb.and([eb('status', '=', 'failed'), eb('retryable', '=', true)])]))
    .execute();
}

/** Of these jobs, those whose result is recorded (succeeded, or failed for good): offering them again changes nothing. */
export async function finishedAgentJobs(db: Kysely<Schema>, ids: string[]): Promise<AgentJobRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('agent_jobs').selectAll().where('id', 'in', ids).where('status', 'in', ['succeeded', 'failed']).execute();
}

/**
 * The engine activity waiting for the agent's result records its task token. On a retry
 * after an attempt that had attached (the agent went silent), or after a retryable failure,
 * the job is offered again to any agent of the party; its idempotency key keeps the effect
 * single. A retry of an attempt that never attached (it failed before) keeps the agent.
 */
export async function attachJobAttempt(db: Kysely<Schema>, jobId: string, input: { taskToken: string; attempt: number }): Promise<AgentJobRow | undefined> {
  const reoffer = input.attempt > 1;
  const result = await sql<AgentJobRow>`
    UPDATE agent_jobs SET
      task_token = ${input.taskToken},
      attempt = ${input.attempt},
      status = CASE WHEN ${reoffer} AND ((status = 'running' AND task_token IS NOT NULL) OR (status = 'failed' AND retryable)) THEN 'offered' ELSE status END,
      agent_id = CASE WHEN ${reoffer} AND ((status = 'running' AND task_token IS NOT NULL) OR (status = 'failed' AND retryable)) THEN NULL ELSE agent_id END,
      reason = CASE WHEN ${reoffer} AND status = 'failed' AND retryable THEN NULL ELSE reason END
    WHERE id = ${jobId}
    RETURNING *`.execute(db);
  return result.rows[0];
}

export function getAgentJob(db: Kysely<Schema>, id: string): Promise<AgentJobRow | undefined> {
  return db.selectFrom('agent_jobs').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Takes the oldest offered job of the party for this agent (SKIP LOCKED: two agents never take one job). */
export async function takeAgentJob(db: Kysely<Schema>, input: { partyId: string; agentId: string }): Promise<AgentJobRow | undefined> {
  const result = await sql<AgentJobRow>`
    UPDATE agent_jobs SET status = 'running', agent_id = ${input.agentId}, picked_at = now(), heartbeat_at = now()
    WHERE id = (
      SELECT id FROM agent_jobs WHERE party_id = ${input.partyId} AND status = 'offered'
      ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED
    )
    RETURNING *`.execute(db);
  return result.rows[0];
}

export async function touchAgentJob(db: Kysely<Schema>, id: string, agentId: string): Promise<AgentJobRow | undefined> {
  return db
    .updateTable('agent_jobs')
    .set({ heartbeat_at: sql<Date>`now()` })
    .where('id', '=', id)
    .where('agent_id', '=', agentId)
    .where('status', '=', 'running')
    .returningAll()
    .executeTakeFirst();
}

/**
 * Records the agent's result once; a second result or one for a withdrawn job changes nothing.
 * With `agentId`, only the agent running the job may record it (a job offered again after a
 * crash belongs to whoever took it since).
 */
export async function finishAgentJob(
  db: Kysely<Schema>,
  id: string,
  result: { ok: true; output: unknown } | { ok: false; reason: string; retryable: boolean },
  options: { agentId?: string } = {},
): Promise<AgentJobRow | undefined> {
  let query = db
    .updateTable('agent_jobs')
    .set({
      status: result.ok ? 'succeeded' : 'failed',
      output: result.ok ? jsonb(result.output) : null,
      reason: result.ok ? null : result.reason,
      retryable: result.ok ? null : result.retryable,
      finished_at: sql<Date>`now()`,
    })
    .where('id', '=', id);
  query = options.agentId === undefined
    ? query.where('status', 'in', ['offered', 'running'])
    : query.where('status', '=', 'running').where('agent_id', '=', options.agentId);
  return query.returningAll().executeTakeFirst();
}

/**
 * Running jobs the engine has no activity waiting on (no task token) whose agent has not
 * been heard of (pickup or heartbeat) for at least `silentMs`: candidates for `releaseSilentPickup`.
 */
export async function listSilentPickups(db: Kysely<Schema>, silentMs: number): Promise<AgentJobRow[]> {
  return db
    .selectFrom('agent_jobs')
    .selectAll()
    .where('status', '=', 'running')
    .where('task_token', 'is', null)
    .where('heartbeat_at', '<', sql<Date>`now() - make_interval(secs => ${silentMs / 1000})`)
    .execute();
}

/**
 * Offers a job again whose pickup the process may never have heard of, if it is still
 * running with no task token and silent for `silentMs`; true when it was.
 */
export async function releaseSilentPickup(db: Kysely<Schema>, id: string, silentMs: number): Promise<boolean> {
  const result = await db
    .updateTable('agent_jobs')
    .set({ status: 'offered', agent_id: null, picked_at: null, heartbeat_at: null })
    .where('id', '=', id)
    .where('status', '=', 'running')
    .where('task_token', 'is', null)
    .where('heartbeat_at', '<', sql<Date>`now() - make_interval(secs => ${silentMs / 1000})`)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Puts a job this agent took back on offer (its pickup could not be told to the process, or the agent left before the answer). */
export async function releaseAgentJob(db: Kysely<Schema>, id: string, agentId: string): Promise<boolean> {
  const result = await db
    .updateTable('agent_jobs')
    .set({ status: 'offered', agent_id: null, picked_at: null, heartbeat_at: null })
    .where('id', '=', id)
    .where('agent_id', '=', agentId)
    .where('status', '=', 'running')
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}
