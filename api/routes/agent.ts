// The routes party agents use (docs/ARCHITECTURE.md "Agents"): long-poll a job of their party,
// heartbeat while it runs, post its result. Agent keys only; other parties' jobs are 404.
import type { Router } from 'express';
import type { ApiDeps } from '../app';
import type { ApiSpec } from '../spec';
import { AgentJobParams, AgentJobView, AgentPollQuery, HeartbeatAnswerView, HeartbeatBody, ResultAnswerView, ResultBody } from '../schemas/agent';
import { heartbeatAgentJob, pollAgentJob, postAgentResult, type AgentJobDeps } from '../services/agent-jobs';

export function agentRoutes(deps: ApiDeps, spec: ApiSpec, router: Router): void {
  const service = (): AgentJobDeps => ({ db: deps.db, client: deps.temporal.client, log: deps.log });

  spec.route(
    router,
    {
      method: 'get',
      path: '/agent/jobs',
      summary: 'Take the next job of my party (long poll)',
      description: 'Waits up to `wait` seconds for a job offered to the caller\'s party and takes it for the calling agent; the process is told. 204 when none came.',
      tags: ['agents'],
      query: AgentPollQuery,
      responses: {
        200: { description: 'A job, now running for this agent', schema: AgentJobView },
        204: { description: 'No job within the wait' },
        403: { description: 'Not an agent key' },
        503: { description: 'The engine could not be told of the pickup: the job stays on offer' },
      },
    },
    async ({ req, res, query, principal }) => {
      // The agent hanging up ends the wait (res 'close' also fires after an answer: harmless).
      const gone = new AbortController();
      res.on('close', () => gone.abort());
      const job = await pollAgentJob(service(), principal, query.wait * 1000, gone.signal);
      if (gone.signal.aborted || req.destroyed) return;
      if (job) res.json(job);
      else res.status(204).end();
    },
  );

  spec.route(
    router,
    {
      method: 'post',
      path: '/agent/jobs/{jobId}/heartbeat',
      summary: 'Heartbeat a running job',
      description: 'Relayed to the engine; without heartbeats the job is offered again. 409: the job is no longer this agent\'s, stop.',
      tags: ['agents'],
      params: AgentJobParams,
      body: HeartbeatBody,
      responses: {
        200: { description: 'Relayed', schema: HeartbeatAnswerView },
        403: { description: 'Not an agent key' },
        409: { description: 'The job is no longer running for this agent: stop working on it' },
        503: { description: 'The heartbeat could not be relayed: keep working, heartbeat again' },
      },
    },
    async ({ res, params, body, principal }) => {
      res.json(await heartbeatAgentJob(service(), principal, params.jobId, body?.details));
    },
  );

  spec.route(
    router,
    {
      method: 'post',
      path: '/agent/jobs/{jobId}/result',
      summary: 'Post the result of a running job',
      description: 'Recorded once, then the engine step is completed (or failed; `retryable` lets the engine offer it again). A second result, or one after the step moved on, is 409.',
      tags: ['agents'],
      params: AgentJobParams,
      body: ResultBody,
      responses: {
        200: { description: 'Recorded and delivered to the engine', schema: ResultAnswerView },
        202: { description: 'Recorded; the engine reads it when its waiting activity starts', schema: ResultAnswerView },
        403: { description: 'Not an agent key' },
        409: { description: 'Already recorded, withdrawn, or no longer this agent\'s job: nothing changed' },
        413: { description: 'The output exceeds 64 KiB of JSON' },
      },
    },
    async ({ res, params, body, principal }) => {
      const delivery = await postAgentResult(service(), principal, params.jobId, body);
      res.status(delivery.delivered ? 200 : 202).json({ jobId: params.jobId, ...delivery });
    },
  );
}
