// The inbox: a human task is a row here and a pending Update in its workflow.
import { sql, type Kysely } from 'kysely';
import { jsonb } from './json';
import type { Schema, TaskKind, TaskRow, TaskStatus } from './schema';

export interface OpenTaskInput {
  /** Also the workflow Update id that completes the task. */
  id: string;
  processId: string;
  stepKey: string;
  kind: TaskKind;
  partyId: string;
  team?: string | null;
  /** The user who requested the process run: never the approver (four-eyes). */
  requestedBy?: string | null;
  title: string;
  payload: unknown;
  dueAt?: Date | string | null;
  hardDeadlineAt?: Date | string | null;
}

/** Opens tasks; ids already present are left as they are. Returns the ids this call created. */
export async function openTasks(db: Kysely<Schema>, tasks: OpenTaskInput[]): Promise<string[]> {
  if (tasks.length === 0) return [];
  const rows = await db
    .insertInto('tasks')
    .values(
      tasks.map((task) => ({
        id: task.id,
        process_id: task.processId,
        step_key: task.stepKey,
        kind: task.kind,
        party_id: task.partyId,
        team: task.team ?? null,
        requested_by: task.requestedBy ?? null,
        title: task.title,
        payload: jsonb(task.payload),
        due_at: task.dueAt ?? null,
        hard_deadline_at: task.hardDeadlineAt ?? null,
      })),
    )
    .onConflict((oc) => oc.column('id').doNothing())
    .returning('id')
    .execute();
  return rows.map((row) => row.id);
}

export interface ClaimTaskInput {
  taskId: string;
  partyId: string;
  userId: string;
  submission: unknown;
}

/**
 * Claims an open task of the party for one user: exactly one of concurrent callers gets
 * the row, the others undefined (409). The workflow then settles or reopens it.
 */
export function claimTask(db: Kysely<Schema>, input: ClaimTaskInput): Promise<TaskRow | undefined> {
  return db
    .updateTable('tasks')
    .set({ status: 'completing', claimed_by: input.userId, claimed_at: sql<Date>`now()`, submission: jsonb(input.submission) })
    .where('id', '=', input.taskId)
    .where('party_id', '=', input.partyId)
    .where('status', '=', 'open')
    .returningAll()
    .executeTakeFirst();
}

export interface SettleTaskInput {
  status: 'done' | 'expired' | 'cancelled';
  /** Who completed it; defaults to the claimer for `done`. */
  completedBy?: string | null;
  at: Date | string;
}

/** Ends an open or completing task. Idempotent: a settled task is left alone (undefined). */
export function settleTask(db: Kysely<Schema>, taskId: string, input: SettleTaskInput): Promise<TaskRow | undefined> {
  return db
    .updateTable('tasks')
    .set((eb) => ({
      status: input.status,
      completed_by:
        input.completedBy !== undefined
          ? input.completedBy
          : input.status === 'done'
            ? eb.ref('claimed_by')
            : null,
      completed_at: input.at,
    }))
    .where('id', '=', taskId)
    .where('status', 'in', ['open', 'completing'])
    .returningAll()
    .executeTakeFirst();
}

/** Puts a claimed task back in the inbox (the workflow refused the submission); only the claimer's claim. */
export function reopenTask(db: Kysely<Schema>, taskId: string, input: { claimedBy: string }): Promise<TaskRow | undefined> {
  return db
    .updateTable('tasks')
    .set({ status: 'open', claimed_by: null, claimed_at: null, submission: null })
    .where('id', '=', taskId)
    .where('status', '=', 'completing')
    .where('claimed_by', '=', input.claimedBy)
    .returningAll()
    .executeTakeFirst();
}

/** Assigns an open task of the party to one of its users. Undefined when the task is not open (or not the party's). */
export function assignTask(db: Kysely<Schema>, input: { taskId: string; partyId: string; userId: string }): Promise<TaskRow | undefined> {
  return db
    .updateTable('tasks')
    .set({ assignee_user_id: input.userId })
    .where('id', '=', input.taskId)
    .where('party_id', '=', input.partyId)
    .where('status', '=', 'open')
    .returningAll()
    .executeTakeFirst();
}

export function getTask(db: Kysely<Schema>, id: string): Promise<TaskRow | undefined> {
  return db.selectFrom('tasks').selectAll().where('id', '=', id).executeTakeFirst();
}

export interface TaskListFilter {
  partyId: string;
  status?: TaskStatus[];
  processId?: string;
  team?: string;
  dueBefore?: Date | string;
  /** Tasks of the processes of this contract. */
  contractId?: string;
  /** A user id: tasks assigned to that user; null: tasks assigned to nobody. */
  assigneeUserId?: string | null;
  limit: number;
  /** The `next` cursor of the previous page. */
  after?: string;
}

type Cursor = [dueAt: string | null, id: string];

function encodeCursor(task: TaskRow): string {
  const cursor: Cursor = [task.due_at ? task.due_at.toISOString() : null, task.id];
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

function decodeCursor(value: string): Cursor {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
    if (
      Array.isArray(parsed) &&
      parsed.length === 2 &&
      (parsed[0] === null || (typeof parsed[0] === 'string' && !Number.isNaN(Date.parse(parsed[0])))) &&
      typeof parsed[1] === 'string'
    ) {
      return [parsed[0] as string | null, parsed[1]];
    }
  } catch {
    // Falls through to the error below.
  }
  throw new InvalidCursorError();
}

export class InvalidCursorError extends Error {
  constructor() {
    super('invalid task list cursor');
    this.name = 'InvalidCursorError';
  }
}

/**
 * A party's tasks, soonest due first (no due date last), a page at a time.
 * due_at is stored to the millisecond, so the cursor's ISO instant compares exactly.
 */
export async function listTasksForParty(db: Kysely<Schema>, filter: TaskListFilter): Promise<{ tasks: TaskRow[]; next?: string }> {
  const limit = Math.max(1, Math.min(filter.limit, 500));
  let query = db
    .selectFrom('tasks')
    .selectAll()
    .where('party_id', '=', filter.partyId)
    .orderBy(sql`due_at asc nulls last`)
    .orderBy('id')
    .limit(limit + 1);
  if (filter.status?.length) query = query.where('status', 'in', filter.status);
  if (filter.processId) query = query.where('process_id', '=', filter.processId);
  if (filter.team) query = query.where('team', '=', filter.team);
  if (filter.dueBefore) query = query.where('due_at', '<', new Date(filter.dueBefore));
  if (filter.contractId) {
    const contractId = filter.contractId;
    query = query.where('process_id', 'in', (eb) => eb.selectFrom('processes').select('id').where('contract_id', '=', contractId));
  }
  if (filter.assigneeUserId !== undefined) {
    query = filter.assigneeUserId === null ? query.where('assignee_user_id', 'is', null) : query.where('assignee_user_id', '=', filter.assigneeUserId);
  }
  if (filter.after) {
    const [dueIso, id] = decodeCursor(filter.after);
    const dueAt = dueIso === null ? null : new Date(dueIso);
    query = query.where((eb) =>
      dueAt === null
        ? eb.and([eb('due_at', 'is', null), eb('id', '>', id)])
        : eb.or([
            eb('due_at', '>', dueAt),
            eb.and([eb('due_at', '=', dueAt), eb('id', '>', id)]),
            eb('due_at', 'is', null),
          ]),
    );
  }
  const rows = await query.execute();
  const tasks = rows.slice(0, limit);
  const last = tasks.at(-1);
  return rows.length > limit && last ? { tasks, next: encodeCursor(last) } : { tasks };
}

/** Tasks claimed before `olderThan` and still completing: the reconciler asks their workflow. */
export function listCompletingTasks(db: Kysely<Schema>, olderThan: Date | string, limit = 100): Promise<TaskRow[]> {
  return db
    .selectFrom('tasks')
    .selectAll()
    .where('status', '=', 'completing')
    .where('claimed_at', '<', new Date(olderThan))
    .orderBy('claimed_at')
    .limit(limit)
    .execute();
}
