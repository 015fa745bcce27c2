import type { Router } from 'express';
import { z } from 'zod';
import { InvalidCursorError, getTask, listTasksForParty } from '../../db/tasks';
import type { ApiDeps } from '../app';
import { badRequest, notFound } from '../errors';
import type { ApiSpec } from '../spec';
import { TaskPage, TaskView } from '../schemas';
import { statusList } from '../schemas/contracts';
import { completeTask, reassignTask } from '../services/tasks';
import { cursorValue, taskView } from '../views';

const TaskQuery = z
  .object({
    status: statusList(z.enum(['open', 'completing', 'done', 'cancelled', 'expired'])).openapi({ description: 'One status or several (comma-separated or repeated); `open` when omitted.' }),
    processId: z.string().optional(),
    contractId: z.string().optional(),
    dueBefore: z.iso.datetime({ offset: true }).optional().openapi({ description: 'Due before this instant (tasks with no due date are left out).' }),
    assignee: z.enum(['me', 'unassigned']).optional().openapi({ description: '`me`: tasks assigned to the caller; `unassigned`: tasks assigned to nobody.' }),
    limit: z.coerce.number().int().min(1).max(200).default(50),
    after: z.string().optional().openapi({ description: 'The `next` cursor of the previous page.' }),
  })
  .strict();
const TaskParams = z.object({ taskId: z.string().min(1) });
const ReassignBody = z.object({ userId: z.string().min(1) }).strict().openapi('ReassignTask');
const ClientSignature = z
  .object({
    keyId: z.string().min(1).max(100),
    signature: z.string().regex(/^[0-9a-fA-F]{128}$/, 'expected 64 bytes in hex'),
  })
  .strict()
  .openapi('ClientSignature');
const CompleteBody = z
  .object({
    decision: z.enum(['approve', 'reject']).optional().openapi({ description: 'Approval and signature tasks only (for a `sign` task: approve = sign, reject = decline).' }),
    comment: z.string().max(2000).optional(),
    payload: z.record(z.string(), z.unknown()).optional().openapi({ description: 'What the step asks for, e.g. `{ "trackingNumber": "…" }`.' }),
    clientSignature: ClientSignature.optional().openapi({
      description:
        "The approver's own Ed25519 signature (cli/sign.ts) over the approval's canonical JSON (README \"Security model\"), with a key its party's admins registered. Required on approvals of a party that registered signing keys.",
    }),
  })
  .strict()
  .openapi('CompleteTask');

export function taskRoutes(deps: ApiDeps, spec: ApiSpec, router: Router): void {
  spec.route(
    router,
    { method: 'get', path: '/tasks', summary: "My party's inbox", tags: ['tasks'], query: TaskQuery, responses: { 200: { description: 'A page of tasks', schema: TaskPage } } },
    async ({ res, query, principal }) => {
      if (query.assignee === 'me' && !principal.userId) throw badRequest('assignee=me needs a user key', [{ path: 'query.assignee', message: 'an agent key has no tasks assigned to it' }]);
      const assigneeUserId = query.assignee === 'me' ? principal.userId : query.assignee === 'unassigned' ? null : undefined;
      if (query.after !== undefined) cursorValue(query.after); // 400 before the query for text PostgreSQL refuses
      try {
        const page = await listTasksForParty(deps.db, {
          partyId: principal.partyId,
          status: query.status ?? ['open'],
          processId: query.processId,
          contractId: query.contractId,
          dueBefore: query.dueBefore,
          assigneeUserId,
          limit: query.limit,
          after: query.after,
        });
        res.json({ items: page.tasks.map(taskView), next: page.next ?? null });
      } catch (err) {
        if (err instanceof InvalidCursorError) throw badRequest('the cursor is invalid', [{ path: 'query.after', message: 'expected the `next` value of a previous page' }]);
        throw err;
      }
    },
  );

  spec.route(
    router,
    { method: 'get', path: '/tasks/{taskId}', summary: 'One task of my party', tags: ['tasks'], params: TaskParams, responses: { 200: { description: 'The task', schema: TaskView } } },
    async ({ res, params, principal }) => {
      const task = await getTask(deps.db, params.taskId);
      if (!task || task.party_id !== principal.partyId) throw notFound(`task ${params.taskId}`);
      res.json(taskView(task));
    },
  );

  spec.route(
    router,
    {
      method: 'post',
      path: '/tasks/{taskId}/complete',
      summary: 'Complete a task of my party',
      description: 'The task is claimed first: a concurrent or second completion gets 409. The process then checks the party, the user (four-eyes for approvals) and the payload.',
      tags: ['tasks'],
      params: TaskParams,
      body: CompleteBody,
      responses: {
        200: { description: 'Done', schema: TaskView },
        202: { description: 'Claimed; the process has not confirmed yet. The task stays `completing` and is delivered again.', schema: TaskView },
        400: { description: 'A field outside what the step asks for (its completion schema; a decision and a comment for a task without one), named' },
        403: { description: 'An agent key cannot complete tasks; a task assigned to another user is reassigned first' },
        409: { description: 'Already completed, expired or being completed' },
        422: { description: 'The process refused the completion (role, four-eyes, payload); the task is open again' },
      },
    },
    async ({ res, params, body, principal }) => {
      const result = await completeTask({ db: deps.db, client: deps.temporal.client, log: deps.log, updateWaitMs: deps.updateWaitMs ?? 10_000 }, principal, params.taskId, body ?? {});
      res.status(result.status).json(taskView(result.task));
    },
  );

  spec.route(
    router,
    {
      method: 'post',
      path: '/tasks/{taskId}/reassign',
      summary: 'Assign an open task of my party to one of its users',
      description: 'The user must belong to my party and hold a role that can complete the task (approver for approvals). Four-eyes is still checked by the process when the task is completed.',
      tags: ['tasks'],
      params: TaskParams,
      body: ReassignBody,
      responses: {
        200: { description: 'The task, assigned', schema: TaskView },
        403: { description: 'Only an admin or operator of the party (or an approver, for approvals) reassigns' },
        409: { description: 'The task is no longer open' },
        422: { description: 'The user is not of my party, cannot complete this kind of task, or requested the process (approvals)' },
      },
    },
    async ({ res, params, body, principal }) => {
      const taskDeps = { db: deps.db, client: deps.temporal.client, log: deps.log, updateWaitMs: deps.updateWaitMs ?? 10_000 };
      res.json(taskView(await reassignTask(taskDeps, principal, params.taskId, body.userId)));
    },
  );
}
