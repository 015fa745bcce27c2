// The invariant of issue 11, checked once the run settled: the database may lag Temporal's
// history, never lead it, and a journal entry is never changed. For each process: its
// status, tasks, journal and outbox in PostgreSQL against its Temporal history; its
// directory effects against the directory file; every completion a person was told about
// against the updates the workflow accepted. Backup runs: every agent job succeeded once,
// each silence the history timed out is journaled and offered again, the agent's effect
// (a backup file) exists once per job under its idempotency key, and the engine verified it.
// Each failure names the process, the task or job and what the database says against what
// the history holds.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter, type PayloadCodec } from '@temporalio/common';
import type proto from '@temporalio/proto';
import type { Kysely } from 'kysely';
import { verifyJournal } from '../../db/journal';
import type { AgentJobRow, JournalRow, Schema, TaskRow } from '../../db/schema';
import type { TaskCompletion } from '../../workflows/definitions';
import { describeTold, wasAcknowledged, type BackupRun, type Employee, type LedgerEntry } from './driver';
import { CHAOS_AGENTS, type ActionMark } from './harness';

type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;
type Timestamp = proto.google.protobuf.ITimestamp;

/** The steps of an onboarding a person completes: one task each, completed once. */
const PERSON_STEPS: Record<string, { kind: string; event: string }> = {
  'iam.grant-privileged': { kind: 'approve', event: 'task.approved' },
  'equipment.ship-laptop': { kind: 'execute', event: 'task.completed' },
  'onboarding.confirm': { kind: 'execute', event: 'task.completed' },
};
/** Engine steps: one `step.executed` each, one directory effect each. */
const ENGINE_STEPS = ['iam.create-accounts', 'iam.grant-privileged'];
/** The example contract's backup policy: each asset and the party whose agent backs it up (its host). */
const BACKUP_ASSETS: Record<string, string> = { 'srv-erp-01': 'dc-lyon', 'srv-erp-02': 'dc-lyon', 'srv-file-01': 'nuvola' };
/** The example contract's I parties: one `step.completed` notice per step and party. */
const NOTICES = [
  ['iam.create-accounts', 'martin'],
  ['equipment.ship-laptop', 'nuvola'],
  ['onboarding.confirm', 'martin'],
] as const;

export interface JournalSnapshot {
  takenAtMs: number;
  why: string;
  /** `${processId}#${seq}` → hash */
  hashes: Map<string, string>;
}

/** What the journals hold now: taken at each kill, compared at the end (an entry is never changed). */
export async function snapshotJournals(db: Kysely<Schema>, processIds: string[], why: string): Promise<JournalSnapshot> {
  const hashes = new Map<string, string>();
  if (processIds.length > 0) {
    const rows = await db.selectFrom('journal').select(['process_id', 'seq', 'hash']).where('process_id', 'in', processIds).execute();
    for (const r of rows) hashes.set(`${r.process_id}#${r.seq}`, r.hash);
  }
  return { takenAtMs: Date.now(), why, hashes };
}

interface AcceptedUpdate {
  updateId: string;
  eventId: number;
  completion?: TaskCompletion;
  /** Workflow time of the workflow task that accepted it (its WorkflowTaskStarted event). */
  workflowTimeMs?: number;
}

/** One agent job as the history holds it: its result waits (activities) and pickups (signals). */
export interface JobHistory {
  /** awaitAgentResult activities by outcome; a time-out is a silence, a failure a reported one. */
  completed: unknown[];
  timedOut: number;
  failed: number;
  pending: number;
  pickups: string[];
}

export interface HistoryFacts {
  status: string;
  jobs: Map<string, JobHistory>;
  accepted: Map<string, AcceptedUpdate>;
  completedUpdates: Map<string, 'success' | 'failure'>;
  activities: Map<string, { type: string; startToCloseMs?: number; heartbeatMs?: number }>;
  engineActionsCompleted: number;
  lastEvent: string;
  /**
   * Every workflow time a persisted workflow task ran at: the start of each completed
   * workflow task, and each local activity's completion (its marker), which moves workflow
   * time on inside a workflow task.
   */
  workflowTimes: number[];
}

function tsMs(ts: Timestamp | null | undefined): number | undefined {
  if (!ts) return undefined;
  return Number(ts.seconds?.toString() ?? 0) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);
}

function durationMs(d: proto.google.protobuf.IDuration | null | undefined): number | undefined {
  return d ? Number(d.seconds?.toString() ?? 0) * 1000 + Math.floor((d.nanos ?? 0) / 1e6) : undefined;
}

function eventName(e: HistoryEvent): string {
  const attrs = Object.keys(e).find((k) => k.endsWith('EventAttributes') && (e as Record<string, unknown>)[k] != null);
  return attrs ? attrs.replace(/EventAttributes$/, '') : `event type ${String(e.eventType)}`;
}

/** Reads what the history says about tasks, engine actions and the end of the run. */
export async function historyFacts(client: Client, codec: PayloadCodec, processId: string): Promise<HistoryFacts> {
  const handle = client.workflow.getHandle(processId);
  const [description, history] = await Promise.all([handle.describe(), handle.fetchHistory()]);
  const events = history.events ?? [];
  const accepted = new Map<string, AcceptedUpdate>();
  const completedUpdates = new Map<string, 'success' | 'failure'>();
  const activities = new Map<string, { type: string; startToCloseMs?: number; heartbeatMs?: number }>();
  let engineActionsCompleted = 0;
  let lastWorkflowTaskStarted: number | undefined;
  const startedAt = new Map<number, number>();
  const workflowTimes: number[] = [];
  const scheduledType = new Map<number, string>();
  const jobs = new Map<string, JobHistory>();
  const jobOf = (jobId: string) => {
    let job = jobs.get(jobId);
    if (!job) jobs.set(jobId, (job = { completed: [], timedOut: 0, failed: 0, pending: 0, pickups: [] }));
    return job;
  };
  const decode = async <T>(payloads: unknown[] | null | undefined): Promise<T | undefined> => {
    if (!payloads?.length) return undefined;
    const [decoded] = await codec.decode(payloads as Parameters<PayloadCodec['decode']>[0]);
    return decoded ? defaultPayloadConverter.fromPayload<T>(decoded) : undefined;
  };
  /** awaitAgentResult activities by their scheduled event id → job id */
  const waits = new Map<number, string>();
  for (const e of events) {
    if (e.workflowTaskStartedEventAttributes) {
      lastWorkflowTaskStarted = tsMs(e.eventTime);
      if (lastWorkflowTaskStarted !== undefined) startedAt.set(Number(e.eventId?.toString() ?? 0), lastWorkflowTaskStarted);
    }
    const wftCompleted = e.workflowTaskCompletedEventAttributes;
    if (wftCompleted) {
      const at = startedAt.get(Number(wftCompleted.startedEventId?.toString() ?? 0));
      if (at !== undefined) workflowTimes.push(at);
    }
    const marker = e.markerRecordedEventAttributes;
    if (marker?.markerName === 'core_local_activity') {
      // Core's own JSON (never encrypted): {seq, activity_type, complete_time: {seconds, nanos}, …}
      const data = marker.details?.data?.payloads?.[0]?.data;
      if (data) {
        const parsed = JSON.parse(Buffer.from(data).toString('utf8')) as { complete_time?: { seconds: number | string; nanos?: number } };
        const t = parsed.complete_time;
        if (t) workflowTimes.push(Number(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1e6));
      }
    }
    const acc = e.workflowExecutionUpdateAcceptedEventAttributes;
    if (acc) {
      const updateId = acc.acceptedRequest?.meta?.updateId ?? '';
      const payloads = acc.acceptedRequest?.input?.args?.payloads ?? [];
      let completion: TaskCompletion | undefined;
      if (payloads.length > 0) {
        const [decoded] = await codec.decode(payloads as Parameters<PayloadCodec['decode']>[0]);
        completion = decoded ? defaultPayloadConverter.fromPayload<TaskCompletion>(decoded) : undefined;
      }
      accepted.set(updateId, { updateId, eventId: Number(e.eventId?.toString() ?? 0), completion, workflowTimeMs: lastWorkflowTaskStarted });
    }
    const done = e.workflowExecutionUpdateCompletedEventAttributes;
    if (done) completedUpdates.set(done.meta?.updateId ?? '', done.outcome?.failure ? 'failure' : 'success');
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) {
      activities.set(scheduled.activityId ?? '', { type: scheduled.activityType?.name ?? '?', startToCloseMs: durationMs(scheduled.startToCloseTimeout), heartbeatMs: durationMs(scheduled.heartbeatTimeout) });
      scheduledType.set(Number(e.eventId?.toString() ?? 0), scheduled.activityType?.name ?? '?');
      if (scheduled.activityType?.name === 'awaitAgentResult') {
        const input = await decode<{ jobId: string }>(scheduled.input?.payloads);
        waits.set(Number(e.eventId?.toString() ?? 0), input?.jobId ?? '?');
        jobOf(input?.jobId ?? '?').pending++;
      }
    }
    const completedActivity = e.activityTaskCompletedEventAttributes;
    if (completedActivity && scheduledType.get(Number(completedActivity.scheduledEventId?.toString() ?? 0)) === 'runEngineAction') engineActionsCompleted++;
    const ended = completedActivity ?? e.activityTaskTimedOutEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskCanceledEventAttributes;
    const waitOf = ended && waits.get(Number(ended.scheduledEventId?.toString() ?? 0));
    if (waitOf) {
      const job = jobOf(waitOf);
      job.pending--;
      if (completedActivity) job.completed.push(await decode(completedActivity.result?.payloads));
      else if (e.activityTaskTimedOutEventAttributes) job.timedOut++;
      else job.failed++;
    }
    const signal = e.workflowExecutionSignaledEventAttributes;
    if (signal?.signalName === 'agentJobPickedUp') {
      const pickup = await decode<{ jobId: string; agentId: string }>(signal.input?.payloads);
      jobOf(pickup?.jobId ?? '?').pickups.push(pickup?.agentId ?? '?');
    }
  }
  const last = events.at(-1);
  return {
    status: description.status.name,
    jobs,
    accepted,
    completedUpdates,
    activities,
    engineActionsCompleted,
    workflowTimes,
    lastEvent: last ? `${eventName(last)} (event ${String(last.eventId)}, ${new Date(tsMs(last.eventTime) ?? 0).toISOString()})` : 'none',
  };
}

// temporal.api.enums.v1.PendingActivityState / PendingWorkflowTaskState: stable wire numbers.
const ACTIVITY_STATE = ['unspecified', 'scheduled', 'started', 'cancel requested', 'paused', 'pause requested'];
const WORKFLOW_TASK_STATE = ['unspecified', 'scheduled', 'started'];

/** Why a running workflow is not moving: pending activities (and whose worker ran them), the pending workflow task. */
export async function whyRunning(client: Client, processId: string, facts: HistoryFacts, deadWorkers: Map<string, string>): Promise<string> {
  const description = await client.workflow.getHandle(processId).describe();
  const parts: string[] = [];
  for (const a of description.raw.pendingActivities ?? []) {
    const spec = facts.activities.get(a.activityId ?? '');
    const started = tsMs(a.lastStartedTime);
    const identity = a.lastWorkerIdentity ?? '';
    const pid = /^(\d+)@/.exec(identity)?.[1];
    const worker = pid ? deadWorkers.get(pid) : undefined;
    const retryAt = started !== undefined && spec?.startToCloseMs ? new Date(started + spec.startToCloseMs).toISOString() : undefined;
    parts.push(
      `pending activity ${a.activityType?.name ?? '?'} (id ${a.activityId}, attempt ${a.attempt}, ${ACTIVITY_STATE[Number(a.state)] ?? `state ${String(a.state)}`}${started ? `, started ${new Date(started).toISOString()}` : ''} by worker ${identity || '?'}${worker ? ` (${worker})` : ''}; start-to-close ${spec?.startToCloseMs ? `${spec.startToCloseMs / 1000}s` : '?'}, heartbeat ${spec?.heartbeatMs ? `${spec.heartbeatMs / 1000}s` : 'none'}${retryAt ? `, so Temporal retries it only at ${retryAt}` : ''})`,
    );
  }
  const wft = description.raw.pendingWorkflowTask;
  if (wft) parts.push(`pending workflow task (${WORKFLOW_TASK_STATE[Number(wft.state)] ?? `state ${String(wft.state)}`}, attempt ${wft.attempt})`);
  if (parts.length === 0) parts.push('nothing pending in Temporal: the workflow waits for a task completion (an update) or a timer');
  return parts.join('; ');
}

export interface CheckInput {
  db: Kysely<Schema>;
  client: Client;
  codec: PayloadCodec;
  employees: Employee[];
  backups: BackupRun[];
  ledger: Map<string, LedgerEntry>;
  snapshots: JournalSnapshot[];
  directoryFile: string;
  /** pid → that worker incarnation's life (started, how it ended), to name whose activities hang. */
  deadWorkers: Map<string, string>;
  /** Where each chaos agent's actions write (`<agentsDir>/<party>/`: effects.json, backups/<vm>/). */
  agentsDir: string;
  /** The agents' action runs, phase by phase (agent-action.mjs). */
  actionMarks: ActionMark[];
}

export interface CheckOutcome {
  failures: string[];
  notes: string[];
  figures: {
    processes: number;
    completedInDb: number;
    completedInTemporal: number;
    tasksDone: number;
    journalEntries: number;
    outboxRows: number;
    directoryAccounts: number;
    directoryEffects: number;
    engineActionsCompleted: number;
    backupRuns: number;
    agentJobs: number;
    agentJobsSucceeded: number;
    agentRounds: number;
    agentSilent: number;
    agentRetrying: number;
    actionRuns: number;
    actionRunsRepeated: number;
    backupFiles: number;
    backupsVerified: number;
  };
}

function taskLine(t: TaskRow): string {
  return `task ${t.id} (${t.step_key}, ${t.kind}, party ${t.party_id})`;
}

function journalLine(r: JournalRow): string {
  return `journal seq ${r.seq} ${r.event} at ${r.at.toISOString()}${r.actor ? ` by ${r.actor}` : ''}`;
}

export async function checkInvariant(input: CheckInput): Promise<CheckOutcome> {
  const { db, client, codec, employees } = input;
  const failures: string[] = [];
  const notes: string[] = [];
  const figures: CheckOutcome['figures'] = {
    processes: employees.length + input.backups.length,
    completedInDb: 0,
    completedInTemporal: 0,
    tasksDone: 0,
    journalEntries: 0,
    outboxRows: 0,
    directoryAccounts: 0,
    directoryEffects: 0,
    engineActionsCompleted: 0,
    backupRuns: input.backups.length,
    agentJobs: 0,
    agentJobsSucceeded: 0,
    agentRounds: 0,
    agentSilent: 0,
    agentRetrying: 0,
    actionRuns: 0,
    actionRunsRepeated: 0,
    backupFiles: 0,
    backupsVerified: 0,
  };
  const directory = await readDirectory(input.directoryFile);
  const effects = await readAgentEffects(input.agentsDir);

  // Onboardings (person and engine steps), then backup runs (agent and engine steps).
  const subjects = [...employees.map((e) => ({ ...e, employee: e as Employee | undefined })), ...input.backups.map((b) => ({ ...b, employee: undefined }))];
  for (const { processId: id, businessKey, employee } of subjects) {
    const who = `${businessKey} (${id})`;
    const fail = (message: string) => failures.push(`${who}: ${message}`);
    const row = await db.selectFrom('processes').selectAll().where('id', '=', id).executeTakeFirst();
    const tasks = await db.selectFrom('tasks').selectAll().where('process_id', '=', id).orderBy('created_at').execute();
    const journal = await db.selectFrom('journal').selectAll().where('process_id', '=', id).orderBy('seq').execute();
    const outbox = await db.selectFrom('outbox').selectAll().where('effect_key', 'like', `${id}:%`).execute();
    const jobs = await db.selectFrom('agent_jobs').selectAll().where('process_id', '=', id).execute();
    figures.journalEntries += journal.length;
    figures.outboxRows += outbox.length;
    let facts: HistoryFacts;
    try {
      facts = await historyFacts(client, codec, id);
    } catch (err) {
      fail(`Temporal has no history for it (${err instanceof Error ? err.message : String(err)}); the database says ${row?.status ?? 'nothing'}`);
      continue;
    }
    figures.engineActionsCompleted += facts.engineActionsCompleted;
    if (row?.status === 'completed') figures.completedInDb++;
    if (facts.status === 'COMPLETED') figures.completedInTemporal++;

    // Process status: the database follows the workflow's close status.
    const expectedDbStatus = ({ COMPLETED: 'completed', FAILED: 'failed', CANCELLED: 'cancelled', TERMINATED: 'failed', TIMED_OUT: 'failed' } as Record<string, string>)[facts.status];
    if (!row) fail(`no row in processes, Temporal says ${facts.status}`);
    else if (facts.status === 'RUNNING') {
      const why = await whyRunning(client, id, facts, input.deadWorkers);
      const atStep = tasks.filter((t) => t.step_key === row.current_step).map((t) => `${t.id} ${t.status}`);
      fail(`not finished: Temporal says RUNNING (last event ${facts.lastEvent}), the database says ${row.status} at step ${row.current_step ?? '-'} (its tasks: ${atStep.join(', ') || 'none'}); ${why}`);
    } else if (row.status !== expectedDbStatus) {
      fail(`the database says ${row.status}, the workflow closed ${facts.status} (last event ${facts.lastEvent})`);
    } else if (facts.status !== 'COMPLETED') {
      fail(`closed ${facts.status} (expected COMPLETED; last event ${facts.lastEvent})`);
    }

    // Tasks: every `done` row is an update the workflow accepted, by the same user; each person step once.
    for (const t of tasks) {
      const update = facts.accepted.get(t.id);
      if (t.status === 'done') {
        figures.tasksDone++;
        if (!t.completed_by) fail(`${taskLine(t)} is done without completed_by`);
        if (!update) {
          const entry = journal.find((r) => (r.data as { taskId?: string } | null)?.taskId === t.id && r.event.startsWith('task.'));
          fail(
            `${taskLine(t)} is done in the database (completed_by ${t.completed_by}, at ${t.completed_at?.toISOString() ?? '?'}${entry ? `; ${journalLine(entry)}` : ''}) ` +
              `but its Temporal history holds no accepted update ${t.id}${facts.status === 'RUNNING' ? ' and the workflow still waits for it: nobody can complete it any more (the API answers 409)' : ''}. ` +
              `The person was told: ${describeTold(input.ledger.get(t.id))}. The database leads the history.`,
          );
        } else if (update.completion && update.completion.userId !== t.completed_by) {
          fail(`${taskLine(t)}: the database says completed_by ${t.completed_by}, the history's update says ${update.completion.userId}`);
        }
      } else if (t.status === 'open' || t.status === 'completing') {
        if (facts.status !== 'RUNNING') fail(`${taskLine(t)} is still ${t.status} in the database though the workflow closed ${facts.status}; the person was told: ${describeTold(input.ledger.get(t.id))}`);
        else if (update) fail(`${taskLine(t)} is ${t.status} in the database but the history accepted its update at event ${update.eventId} (the database lags and nothing catches it up)`);
        else if (t.status === 'completing') fail(`${taskLine(t)} is completing (claimed by ${t.claimed_by} at ${t.claimed_at?.toISOString() ?? '?'}) and the workflow never got the update; the reconciler did not deliver it. The person was told: ${describeTold(input.ledger.get(t.id))}`);
      } else {
        fail(`${taskLine(t)} is ${t.status}: no task of a run without deadlines should expire or be cancelled`);
      }
    }
    for (const [stepKey, spec] of Object.entries(employee ? PERSON_STEPS : {})) {
      const rows = tasks.filter((t) => t.step_key === stepKey);
      if (facts.status === 'COMPLETED' && rows.length !== 1) fail(`${rows.length} task rows for ${stepKey}, expected exactly one: ${rows.map((t) => `${t.id} ${t.status}`).join(', ') || 'none'}`);
      if (rows.some((t) => t.kind !== spec.kind)) fail(`a ${stepKey} task is not of kind ${spec.kind}`);
    }
    for (const update of facts.accepted.values()) {
      if (!tasks.some((t) => t.id === update.updateId)) fail(`the history accepted update ${update.updateId} (event ${update.eventId}) but there is no task row with that id`);
      if (facts.completedUpdates.get(update.updateId) !== 'success') fail(`update ${update.updateId} was accepted but ${facts.completedUpdates.has(update.updateId) ? 'failed' : 'never completed'} in the history`);
    }

    // Journal: the chain verifies, and its task completions are the history's accepted updates.
    const verdict = await verifyJournal(db, id);
    if (!verdict.ok) fail(`journal chain broken at seq ${verdict.brokenAt}: ${verdict.reason}`);
    const taskEntries = journal.filter((r) => r.event === 'task.completed' || r.event === 'task.approved' || r.event === 'task.rejected');
    const byTask = new Map<string, JournalRow[]>();
    for (const r of taskEntries) {
      const taskId = (r.data as { taskId?: string } | null)?.taskId ?? '?';
      byTask.set(taskId, [...(byTask.get(taskId) ?? []), r]);
    }
    for (const [taskId, entries] of byTask) {
      const update = facts.accepted.get(taskId);
      if (entries.length > 1) fail(`task ${taskId} is journaled ${entries.length} times: ${entries.map(journalLine).join('; ')}`);
      const entry = entries[0]!;
      if (!update) {
        if (!tasks.some((t) => t.id === taskId && t.status === 'done')) fail(`${journalLine(entry)} for task ${taskId}, but the history holds no accepted update ${taskId}: the journal leads the history`);
        continue;
      }
      const c = update.completion;
      if (c && entry.actor !== `user:${c.userId}`) fail(`${journalLine(entry)} for task ${taskId}: the history's update was sent by user ${c.userId}`);
      if (c?.decision && entry.event !== (c.decision === 'approve' ? 'task.approved' : 'task.rejected')) fail(`${journalLine(entry)}: the history's update decided ${c.decision}`);
      if (update.workflowTimeMs !== undefined && entry.at.getTime() !== update.workflowTimeMs) {
        fail(
          `${journalLine(entry)} for task ${taskId} was written by a workflow task Temporal never persisted: the history accepted the update in the workflow task of ${new Date(update.workflowTimeMs).toISOString()} ` +
            `(event ${update.eventId}), the journal keeps the time of an earlier, lost attempt. The database led the history.`,
        );
      }
    }
    for (const update of facts.accepted.values()) {
      if (!byTask.has(update.updateId) && facts.status !== 'RUNNING') fail(`the history accepted update ${update.updateId} (user ${update.completion?.userId ?? '?'}) but the journal has no task entry for it`);
    }
    // Every entry is stamped with workflow time: a time no persisted workflow task ran at means
    // a workflow task Temporal never persisted wrote it (task entries are checked above).
    const times = new Set(facts.workflowTimes);
    const strays = journal.filter((r) => !r.event.startsWith('task.') && !times.has(r.at.getTime()));
    if (strays.length > 0) {
      const nearest = (ms: number) => facts.workflowTimes.reduce((best, t) => (Math.abs(t - ms) < Math.abs(best - ms) ? t : best), facts.workflowTimes[0] ?? 0);
      fail(
        `${strays.length} journal entries carry a workflow time no persisted workflow task ran at, so a workflow task Temporal never persisted wrote them (the database led the history; appendJournal kept them, the re-run's entries were skipped): ` +
          strays.slice(0, 5).map((r) => `${journalLine(r)}${r.step_key ? ` [${r.step_key}]` : ''} (nearest persisted workflow time ${new Date(nearest(r.at.getTime())).toISOString()})`).join('; '),
      );
    }
    const ends = journal.filter((r) => r.event.startsWith('process.') && r.event !== 'process.started');
    const startedEntries = journal.filter((r) => r.event === 'process.started').length;
    // A running process may not have written its first record yet (the database lags).
    if (startedEntries > 1 || (startedEntries === 0 && facts.status !== 'RUNNING')) fail(`journal has ${startedEntries} process.started entries`);
    if (facts.status === 'COMPLETED' && (ends.length !== 1 || ends[0]?.event !== 'process.completed' || journal.at(-1)?.event !== 'process.completed')) {
      fail(`the workflow completed but the journal ends with ${journal.at(-1) ? journalLine(journal.at(-1)!) : 'nothing'} (process.* entries: ${ends.map((r) => r.event).join(', ') || 'none'})`);
    }
    if (facts.status === 'RUNNING' && ends.length > 0) fail(`the workflow is running but the journal says ${ends.map(journalLine).join('; ')}`);
    for (const stepKey of employee ? ENGINE_STEPS : []) {
      const executed = journal.filter((r) => r.step_key === stepKey && r.event === 'step.executed');
      if (executed.length > 1) fail(`${stepKey} journaled step.executed ${executed.length} times`);
      if (facts.status === 'COMPLETED' && executed.length === 0) fail(`${stepKey} has no step.executed entry though the process completed`);
    }
    for (const snapshot of input.snapshots) {
      for (const r of journal) {
        const seen = snapshot.hashes.get(`${id}#${r.seq}`);
        if (seen !== undefined && seen !== r.hash) fail(`${journalLine(r)} changed since ${snapshot.why}: hash was ${seen.slice(0, 12)}…, is ${r.hash.slice(0, 12)}…`);
      }
      for (const key of snapshot.hashes.keys()) {
        const [pid, seq] = key.split('#');
        if (pid === id && !journal.some((r) => String(r.seq) === seq)) fail(`journal seq ${seq} existed at ${snapshot.why} and is gone`);
      }
    }

    // The witness of the journal's head, once per party holding a role, naming the last entry.
    const checkWitnesses = () => {
      const witnesses = outbox.filter((o) => o.event === 'process.journal-head');
      const head = journal.at(-1);
      const parties = [...new Set(witnesses.map((o) => o.party_id))];
      if (witnesses.length === 0 || parties.length !== witnesses.length) fail(`journal-head witnesses: ${witnesses.map((o) => o.party_id).join(', ') || 'none'}, expected one per party`);
      for (const w of witnesses) {
        const sent = w.payload as { seq?: number; hash?: string };
        if (sent.seq !== head?.seq || sent.hash !== head?.hash) fail(`journal-head witness for ${w.party_id} names seq ${sent.seq}, the journal ends at ${head?.seq}`);
      }
    };

    if (!employee) {
      // A backup run: no person's task, no notice (no I party) but its journal-head witnesses, its agent jobs and effects.
      if (tasks.length > 0) fail(`a backup run has tasks: ${tasks.map(taskLine).join(', ')}`);
      const notices = outbox.filter((o) => o.event !== 'process.journal-head');
      if (notices.length > 0) fail(`a backup run has outbox rows: ${notices.map((o) => `${o.effect_key} (${o.event})`).join(', ')}`);
      if (facts.status === 'COMPLETED') checkWitnesses();
      checkBackupRun({ id, facts, jobs, journal, effects, marks: input.actionMarks, fail, figures });
      continue;
    }

    // Outbox: one notice per step and informed party, none a history would not produce.
    if (facts.status === 'COMPLETED') {
      for (const [stepKey, partyId] of NOTICES) {
        const rows = outbox.filter((o) => o.event === 'step.completed' && o.party_id === partyId && (o.payload as { stepKey?: string }).stepKey === stepKey);
        if (rows.length !== 1) fail(`${rows.length} outbox rows step.completed of ${stepKey} for ${partyId}, expected one: ${rows.map((o) => o.effect_key).join(', ') || 'none'}`);
      }
      checkWitnesses();
      const unexpected = outbox.filter((o) => o.event !== 'process.journal-head' && !NOTICES.some(([s, p]) => o.event === 'step.completed' && o.party_id === p && (o.payload as { stepKey?: string }).stepKey === s));
      if (unexpected.length > 0) fail(`unexpected outbox rows: ${unexpected.map((o) => `${o.effect_key} (${o.event})`).join(', ')}`);
    }
    if (jobs.length > 0) fail(`agent job offers for a process without agent steps: ${jobs.map((j) => `${j.id} ${j.status}`).join(', ')}`);

    // The directory: one account per employee, each engine effect recorded once under its key.
    const account = directory.accounts[employee.username];
    if (facts.status === 'COMPLETED') {
      if (!account) fail(`no directory account ${employee.username} though the process completed`);
      else if (JSON.stringify(account.groups) !== JSON.stringify(['erp-admins'])) fail(`directory account ${employee.username} has groups ${JSON.stringify(account.groups)}, expected ["erp-admins"]`);
      for (const stepKey of ENGINE_STEPS) if (!directory.effects[`${id}:${stepKey}`]) fail(`no directory effect recorded under ${id}:${stepKey}`);
    }
  }

  // Across processes: every backup file and agent effect is one of this run's jobs.
  const keys = new Set(input.backups.flatMap((b) => Object.keys(BACKUP_ASSETS).map((asset) => `${b.processId}:backup.run:${asset}`)));
  for (const [key, files] of effects.files) if (!keys.has(key)) failures.push(`backup files nobody asked for, under idempotency key ${key}: ${files.join(', ')}`);
  for (const key of effects.ledger.keys()) if (!keys.has(key)) failures.push(`an agent effect nobody asked for, under idempotency key ${key}`);
  figures.backupFiles = [...effects.files.values()].reduce((n, files) => n + files.length, 0);
  figures.actionRuns = input.actionMarks.filter((m) => m.phase === 'started').length;

  // Across processes: accounts and effects of this run, and every acknowledged completion.
  const usernames = new Set(employees.map((e) => e.username));
  const ids = new Set(employees.map((e) => e.processId));
  figures.directoryAccounts = Object.keys(directory.accounts).filter((u) => usernames.has(u)).length;
  figures.directoryEffects = Object.keys(directory.effects).filter((k) => ids.has(k.split(':').slice(0, -1).join(':'))).length;
  const strangers = Object.keys(directory.accounts).filter((u) => !usernames.has(u));
  if (strangers.length > 0) failures.push(`directory accounts nobody asked for: ${strangers.join(', ')}`);
  for (const entry of input.ledger.values()) {
    if (!wasAcknowledged(entry)) continue;
    const facts = await historyFacts(client, codec, entry.processId).catch(() => undefined);
    if (facts && !facts.accepted.has(entry.taskId)) {
      const employee = employees.find((e) => e.processId === entry.processId);
      failures.push(`${employee?.businessKey ?? entry.processId}: ${entry.user} was told the completion of task ${entry.taskId} (${entry.stepKey}) was taken — ${describeTold(entry)} — but the workflow never accepted it: the completion is lost`);
    }
  }
  const retried = [...input.ledger.values()].filter((e) => e.told.length > 1);
  if (retried.length > 0) notes.push(`${retried.length} completions needed more than one answer: ${retried.map((e) => `${e.taskId} [${describeTold(e)}]`).join('; ')}`);
  return { failures, notes, figures };
}

/** What the agents' actions did: backup files by the idempotency key they were made under, and each agent's ledger. */
interface AgentEffects {
  /** key → backup files (relative to the agents' dir) */
  files: Map<string, string[]>;
  /** key → the result the ledger (effects.json) keeps for it, by party */
  ledger: Map<string, { party: string; result: unknown }[]>;
}

async function readAgentEffects(agentsDir: string): Promise<AgentEffects> {
  const files = new Map<string, string[]>();
  const ledger = new Map<string, { party: string; result: unknown }[]>();
  for (const { partyId } of CHAOS_AGENTS) {
    const dir = path.join(agentsDir, partyId);
    const effectsFile = await readFile(path.join(dir, 'effects.json'), 'utf8').catch(() => undefined);
    const parsed = effectsFile ? (JSON.parse(effectsFile) as { effects: Record<string, { result: unknown }> }) : { effects: {} };
    for (const [key, effect] of Object.entries(parsed.effects)) ledger.set(key, [...(ledger.get(key) ?? []), { party: partyId, result: effect.result }]);
    for (const asset of await readdir(path.join(dir, 'backups')).catch(() => [] as string[])) {
      for (const name of await readdir(path.join(dir, 'backups', asset))) {
        if (!name.endsWith('.json')) continue;
        let key = '(unreadable: a partial write)';
        try {
          key = (JSON.parse(await readFile(path.join(dir, 'backups', asset, name), 'utf8')) as { idempotencyKey?: string }).idempotencyKey ?? '(no key)';
        } catch {
          // Counted under the name above: a failure names it.
        }
        files.set(key, [...(files.get(key) ?? []), `${partyId}/backups/${asset}/${name}`]);
      }
    }
  }
  return { files, ledger };
}

interface InfraBackupOutput {
  backup?: { id?: string; asset?: string; file?: string; sha256?: string };
  repeated?: boolean;
}

/**
 * One backup run against its history: per asset one job of the host's party, succeeded; the
 * journal's pickups, silences and re-offers are the history's (a timed-out result wait is a
 * silence, journaled `agent.silent`, and the job offered again); one `step.executed` whose
 * output is the job's and the completed wait's; one backup file under the job's key, the one
 * the agent's ledger and the engine's verification name.
 */
function checkBackupRun(c: {
  id: string;
  facts: HistoryFacts;
  jobs: AgentJobRow[];
  journal: JournalRow[];
  effects: AgentEffects;
  marks: ActionMark[];
  fail: (message: string) => void;
  figures: CheckOutcome['figures'];
}): void {
  const { id, facts, jobs, journal, effects, fail, figures } = c;
  const completed = facts.status === 'COMPLETED';
  figures.agentJobs += jobs.length;
  for (const [asset, party] of Object.entries(BACKUP_ASSETS)) {
    const key = `${id}:backup.run:${asset}`;
    const rows = jobs.filter((j) => j.idempotency_key === key);
    if (rows.length !== 1) {
      if (completed || rows.length > 1) fail(`${rows.length} agent jobs under ${key}, expected one`);
      continue;
    }
    const job = rows[0]!;
    const about = `agent job ${job.id} (backup.run of ${asset}, ${party})`;
    const data = (r: JournalRow) => (r.data ?? {}) as { jobId?: string; asset?: string; output?: unknown; backupId?: string; round?: number };
    const entries = journal.filter((r) => data(r).jobId === job.id);
    const count = (event: string) => entries.filter((r) => r.event === event).length;
    const history = facts.jobs.get(job.id) ?? { completed: [], timedOut: 0, failed: 0, pending: 0, pickups: [] };
    const rounds = count('agent.picked-up');
    figures.agentRounds += rounds;
    figures.agentSilent += count('agent.silent');
    figures.agentRetrying += count('agent.retrying');
    if (job.party_id !== party || job.action !== 'backup-vm') fail(`${about} is offered to ${job.party_id} for ${job.action}, expected ${party} for backup-vm`);
    if (job.status === 'succeeded') figures.agentJobsSucceeded++;
    else if (completed) fail(`${about} is ${job.status}${job.reason ? ` (${job.reason})` : ''} though the run completed: every job of a run should succeed (a silent agent's job is offered again, never withdrawn)`);
    if (!completed) continue;

    // The journal and the history: one round per pickup, each ended by a silence, a failure or the result.
    if (history.completed.length !== 1) fail(`${about}: the history completed ${history.completed.length} result waits (awaitAgentResult), expected one`);
    if (history.pending !== 0) fail(`${about}: ${history.pending} result waits never ended in the history`);
    if (count('agent.silent') !== history.timedOut) fail(`${about}: journaled agent.silent ${count('agent.silent')} times, the history timed out ${history.timedOut} result waits`);
    if (count('agent.retrying') !== history.failed) fail(`${about}: journaled agent.retrying ${count('agent.retrying')} times, the history failed ${history.failed} result waits`);
    if (rounds !== history.timedOut + history.failed + 1) fail(`${about}: journaled ${rounds} pickups for ${history.timedOut + history.failed + 1} rounds (${history.timedOut} silences, ${history.failed} failures)`);
    if (history.pickups.length < rounds) fail(`${about}: journaled ${rounds} pickups, the history holds ${history.pickups.length} pickup signals`);
    const executed = entries.filter((r) => r.event === 'step.executed');
    if (executed.length !== 1) {
      fail(`${about}: journaled step.executed ${executed.length} times`);
      continue;
    }
    const output = data(executed[0]!).output as InfraBackupOutput | undefined;
    if (!isDeepStrictEqual(job.output, output)) fail(`${about}: the database keeps output ${JSON.stringify(job.output)}, the journal ${JSON.stringify(output)}`);
    if (history.completed.length === 1 && !isDeepStrictEqual(history.completed[0], output)) fail(`${about}: the history's result is ${JSON.stringify(history.completed[0])}, the journal's ${JSON.stringify(output)}`);
    if (output?.repeated) figures.actionRunsRepeated++;

    // The effect: one backup file under the job's key, the one the ledger and the verification name.
    const files = effects.files.get(key) ?? [];
    const ledger = effects.ledger.get(key) ?? [];
    const backupId = output?.backup?.id;
    if (files.length !== 1) fail(`${about}: ${files.length} backup files were made under its idempotency key ${key}, expected exactly one: ${files.join(', ') || 'none'}`);
    else if (!backupId || !files[0]!.endsWith(`/${backupId}.json`)) fail(`${about}: the step's output names backup ${backupId ?? 'none'}, the one file made is ${files[0]}`);
    if (ledger.length !== 1 || ledger[0]!.party !== party) fail(`${about}: the agents' ledgers hold ${ledger.map((l) => l.party).join(', ') || 'nothing'} under ${key}, expected ${party}'s once`);
    else if ((ledger[0]!.result as InfraBackupOutput).backup?.id !== backupId) fail(`${about}: ${party}'s ledger keeps backup ${(ledger[0]!.result as InfraBackupOutput).backup?.id} under ${key}, the step's output ${backupId}`);
    const verified = journal.filter((r) => r.event === 'backup.verified' && data(r).asset === asset);
    if (verified.length !== 1) fail(`${asset}: journaled backup.verified ${verified.length} times, expected once`);
    else if (data(verified[0]!).backupId !== backupId) fail(`${asset}: backup.verified names ${data(verified[0]!).backupId}, the agent made ${backupId}`);
    else figures.backupsVerified++;
  }
  const strays = jobs.filter((j) => !Object.keys(BACKUP_ASSETS).some((asset) => j.idempotency_key === `${id}:backup.run:${asset}`));
  if (strays.length > 0) fail(`agent jobs no step of the run offers: ${strays.map((j) => `${j.id} ${j.idempotency_key} ${j.status}`).join(', ')}`);
}

interface Directory {
  accounts: Record<string, { groups: string[] }>;
  effects: Record<string, unknown>;
}

async function readDirectory(file: string): Promise<Directory> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as Partial<Directory>;
    return { accounts: parsed.accounts ?? {}, effects: parsed.effects ?? {} };
  } catch {
    return { accounts: {}, effects: {} };
  }
}
