// Shapes of the agent routes (`/v1/agent/jobs`), documented in the OpenAPI spec.
import { z } from 'zod';
import '../spec';
import { MAX_POLL_WAIT_SECONDS, RESULT_REASON_MAX_LENGTH } from '../../agent/protocol';

export const AgentJobParams = z.object({ jobId: z.string().min(1).max(200) });

export const AgentPollQuery = z
  .object({
    wait: z.coerce.number().int().min(0).max(MAX_POLL_WAIT_SECONDS).default(0)
      .openapi({ description: `Seconds to wait for a job before answering 204 (long poll, at most ${MAX_POLL_WAIT_SECONDS}).` }),
  })
  .strict();

export const AgentJobView = z
  .object({
    id: z.string(),
    action: z.string().openapi({ description: "An action key of the agent's own configuration.", example: 'vm-snapshot' }),
    params: z.record(z.string(), z.unknown()).openapi({ description: "Parameter values, to validate with the action's own schema." }),
    idempotencyKey: z.string().openapi({ description: 'The same on every attempt of the step: an action must not act twice for one key.' }),
    processId: z.string(),
    stepKey: z.string(),
    heartbeatEvery: z.string().openapi({ description: 'ISO 8601 duration: heartbeat at least this often while the action runs.', example: 'PT20S' }),
  })
  .openapi('AgentJob');

export const HeartbeatBody = z
  .object({ details: z.unknown().optional().openapi({ description: 'Progress, relayed to the engine (no personal data).' }) })
  .strict()
  .openapi('AgentHeartbeat');

export const HeartbeatAnswerView = z
  .object({ cancelRequested: z.boolean().openapi({ description: 'The engine asked the step to stop: stop the action and post nothing.' }) })
  .openapi('AgentHeartbeatAnswer');

export const ResultBody = z
  .discriminatedUnion('ok', [
    z.object({ ok: z.literal(true), output: z.unknown() }).strict(),
    z.object({
      ok: z.literal(false),
      reason: z.string().min(1).max(RESULT_REASON_MAX_LENGTH),
      retryable: z.boolean().optional().openapi({ description: 'True: the engine may offer the job again. Default false.' }),
    }).strict(),
  ])
  .openapi('AgentResult');

export const ResultAnswerView = z
  .object({
    jobId: z.string(),
    status: z.enum(['succeeded', 'failed']),
    delivered: z.boolean().openapi({ description: "False: recorded; the engine's waiting activity reads it when it starts." }),
  })
  .openapi('AgentResultAnswer');
