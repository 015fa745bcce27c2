import { Router } from 'express';
import { z } from 'zod';
import { getTask, listTasksForParty } from '../../db/tasks';
import type { ApiDeps } from '../app';
import { principalOf } from '../auth';
import { notFound, parseOrThrow } from '../errors';
import { completeTask } from '../services/tasks';
import { taskView } from '../views';

const TaskQuery = z.object({
  status: z.enum(['open', 'completing', 'done', 'cancelled', 'expired']).default('open'),
  processId: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  after: z.string().optional(),
}).strict();

const CompleteBody = z.object({
  decision: z.enum(['approve', 'reject']).optional(),
  comment: z.string().max(2000).optional(),
  payload: z.record(z.string(), z.unknown()).optional(),
}).strict();

export function taskRoutes(deps: ApiDeps): Router {
  const router = Router();

  router.get('/tasks', async (req, res) => {
    const principal = principalOf(req);
    const q = parseOrThrow(TaskQuery, req.query, 'query');
    const page = await listTasksForParty(deps.db, { partyId: principal.partyId, status: [q.status], processId: q.processId, limit: q.limit, after: q.after });
    res.json({ items: page.tasks.map(taskView), next: page.next ?? null });
  });

  router.get('/tasks/:taskId', async (req, res) => {
    const principal = principalOf(req);
    const task = await getTask(deps.db, String(req.params.taskId));
    if (!task || task.party_id !== principal.partyId) throw notFound(`task ${req.params.taskId}`);
    res.json(taskView(task));
  });

  router.post('/tasks/:taskId/complete', async (req, res) => {
    const body = parseOrThrow(CompleteBody, req.body ?? {}, 'body');
    const result = await completeTask(
      { db: deps.db, client: deps.temporal.client, log: deps.log, updateWaitMs: deps.updateWaitMs ?? 10_000 },
      principalOf(req),
      String(req.params.taskId),
      body,
    );
    res.status(result.status).json(taskView(result.task));
  });

  return router;
}
