import type { Router } from 'express';
import { z } from 'zod';
import { getTask, listTasksForParty } from '../../db/tasks';
import type { ApiDeps } from '../app';
import { notFound } from '../errors';
import type { ApiSpec } from '../spec';
import { TaskPage, TaskView } from '../schemas';
import { completeTask } from '../services/tasks';
import { taskView } from '../views';

const TaskQuery = z
  .object({
    status: z.enum(['open', 'completing', 'done', 'cancelled', 'expired']).default('open'),
    processId: z.string().optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
    after: z.string().optional().openapi({ description: 'The `next` cursor of the previous page.' }),
  })
  .strict();
const TaskParams = z.object({ taskId: z.string().min(1) });
const CompleteBody = z
  .object({
    decision: z.enum(['approve', 'reject']).optional().openapi({ description: 'Approval tasks only.' }),
    comment: z.string().max(2000).optional(),
    payload: z.record(z.string(), z.unknown()).optional().openapi({ description: 'What the step asks for, e.g. `{ "trackingNumber": "…" }`.' }),
  })
  .strict()
  .openapi('CompleteTask');

export function taskRoutes(deps: ApiDeps, spec: ApiSpec, router: Router): void {
  spec.route(
    router,
    { method: 'get', path: '/tasks', summary: "My party's inbox", tags: ['tasks'], query: TaskQuery, responses: { 200: { description: 'A page of tasks', schema: TaskPage } } },
    async ({ res, query, principal }) => {
      const page = await listTasksForParty(deps.db, { partyId: principal.partyId, status: [query.status], processId: query.processId, limit: query.limit, after: query.after });
      res.json({ items: page.tasks.map(taskView), next: page.next ?? null });
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
        403: { description: 'An agent key cannot complete tasks' },
        409: { description: 'Already completed, expired or being completed' },
        422: { description: 'The process refused the completion (role, four-eyes, payload); the task is open again' },
      },
    },
    async ({ res, params, body, principal }) => {
      const result = await completeTask({ db: deps.db, client: deps.temporal.client, log: deps.log, updateWaitMs: deps.updateWaitMs ?? 10_000 }, principal, params.taskId, body ?? {});
      res.status(result.status).json(taskView(result.task));
    },
  );
}
