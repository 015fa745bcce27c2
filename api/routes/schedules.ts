import type { Router } from 'express';
import { z } from 'zod';
import { pauseSchedule, resumeSchedule, triggerScheduleAs } from '../../temporal/schedules';
import type { ApiDeps } from '../app';
import type { ApiSpec } from '../spec';
import { PauseScheduleBody, ResumeScheduleBody, ScheduleList, ScheduleView } from '../schemas/schedules';
import { listSchedules, operableSchedule, scheduleState, type ScheduleState } from '../services/schedules';

const ContractParams = z.object({ contractId: z.string().min(1) });
const ScheduleParams = z.object({ contractId: z.string().min(1), name: z.string().min(1).openapi({ example: 'monthly-patching' }) });

function scheduleView(s: ScheduleState): z.infer<typeof ScheduleView> {
  return {
    name: s.schedule.name,
    id: s.schedule.id,
    process: s.schedule.process,
    spec: s.spec,
    timezone: s.schedule.timezone,
    runIn: s.schedule.runIn?.name ?? null,
    overlapPolicy: s.schedule.overlapPolicy,
    exists: s.exists,
    inSync: s.inSync,
    paused: s.paused,
    note: s.note,
    nextActionTimes: s.nextActionTimes.map((d) => d.toISOString()),
    recentActions: s.recentActions.map((a) => ({ scheduledAt: a.scheduledAt.toISOString(), takenAt: a.takenAt.toISOString(), workflowId: a.workflowId })),
  };
}

const operatorOnly = {
  403: { description: 'The caller is a party of the contract but not an operator of its provider' },
  409: { description: 'The schedule does not run: the contract is not active' },
};

export function scheduleRoutes(deps: ApiDeps, spec: ApiSpec, router: Router): void {
  spec.route(
    router,
    {
      method: 'get',
      path: '/contracts/{contractId}/schedules',
      summary: "A contract's recurring work as Temporal runs it",
      description: 'Every schedule of the contract version in force: its spec, whether it is paused and why, its next and recent runs.',
      tags: ['schedules'],
      params: ContractParams,
      responses: { 200: { description: 'The schedules', schema: ScheduleList } },
    },
    async ({ res, params, principal }) => {
      const states = await listSchedules(deps, principal, params.contractId);
      res.json({ contractId: params.contractId, items: states.map(scheduleView) });
    },
  );

  spec.route(
    router,
    {
      method: 'post',
      path: '/contracts/{contractId}/schedules/{name}/pause',
      summary: 'Pause a schedule, saying why',
      tags: ['schedules'],
      params: ScheduleParams,
      body: PauseScheduleBody,
      responses: { 200: { description: 'The paused schedule', schema: ScheduleView }, ...operatorOnly },
    },
    async ({ res, params, body, principal }) => {
      const { document, schedule } = await operableSchedule(deps, principal, params.contractId, params.name);
      await pauseSchedule(deps.temporal.client, params.contractId, params.name, `${body.note} (${principal.userId})`);
      res.json(scheduleView(await scheduleState(deps, document, schedule)));
    },
  );

  spec.route(
    router,
    {
      method: 'post',
      path: '/contracts/{contractId}/schedules/{name}/resume',
      summary: 'Resume a paused schedule',
      tags: ['schedules'],
      params: ScheduleParams,
      body: ResumeScheduleBody,
      responses: { 200: { description: 'The running schedule', schema: ScheduleView }, ...operatorOnly },
    },
    async ({ res, params, body, principal }) => {
      const { document, schedule } = await operableSchedule(deps, principal, params.contractId, params.name);
      await resumeSchedule(deps.temporal.client, params.contractId, params.name, `${body.note ?? 'resumed'} (${principal.userId})`);
      res.json(scheduleView(await scheduleState(deps, document, schedule)));
    },
  );

  spec.route(
    router,
    {
      method: 'post',
      path: '/contracts/{contractId}/schedules/{name}/trigger',
      summary: 'Run a schedule now',
      description:
        'The run takes its business key from now: a billing period or a day already run is not run twice. The caller is the run\'s requester: four-eyes keeps them from approving it, and the journal names them.',
      tags: ['schedules'],
      params: ScheduleParams,
      responses: { 202: { description: 'The run was asked for', schema: ScheduleView }, ...operatorOnly },
    },
    async ({ res, params, principal }) => {
      const { document, schedule } = await operableSchedule(deps, principal, params.contractId, params.name);
      // The person who asks is the run's requester (four-eyes, the journal), not `schedule:<name>`.
      await triggerScheduleAs(deps.temporal.client, params.contractId, params.name, { userId: principal.userId!, partyId: principal.partyId });
      res.status(202).json(scheduleView(await scheduleState(deps, document, schedule)));
    },
  );
}
