// Response shapes of the API, as zod schemas: documented in the OpenAPI spec.
import { z } from 'zod';
import './spec';

const Iso = z.string().openapi({ format: 'date-time', example: '2027-02-01T08:30:00.000Z' });

export const ProcessView = z
  .object({
    id: z.string().openapi({ example: 'mandate:ctr-martin-2027:employee-onboarding:emp-0042' }),
    contractId: z.string(),
    contractVersion: z.number().int(),
    type: z.string().openapi({ example: 'employee-onboarding' }),
    businessKey: z.string(),
    requestedBy: z.object({ userId: z.string(), partyId: z.string() }).nullable().openapi({ description: 'Null for a third party.' }),
    status: z.enum(['running', 'completed', 'failed', 'cancelled']),
    currentStep: z.string().nullable().openapi({ description: 'Null when ended, and always for a third party (see `currentStepDetail`).' }),
    startedAt: Iso,
    endedAt: Iso.nullable(),
  })
  .openapi('Process');

export const JournalEntryView = z
  .object({
    seq: z.number().int(),
    at: Iso,
    stepKey: z.string().nullable(),
    event: z.string().openapi({ example: 'step.executed' }),
    partyId: z.string().nullable(),
    actor: z.string().nullable().openapi({ example: 'user:u-dsi-paul' }),
    clause: z.string().nullable().openapi({ example: 'responsibilities/iam.grant-privileged' }),
    data: z.unknown(),
    hash: z.string(),
    prevHash: z.string(),
  })
  .openapi('JournalEntry');

export const JournalVerification = z
  .union([z.object({ ok: z.literal(true), length: z.number().int() }), z.object({ ok: z.literal(false), brokenAt: z.number().int(), reason: z.string() })])
  .openapi('JournalVerification');

export const CurrentStepDetail = z
  .object({
    stepKey: z.string(),
    clause: z.string(),
    responsibleParty: z.string(),
    phase: z.enum(['consulting', 'approving', 'executing', 'informing', 'finished']),
    startedAt: Iso,
    dueAt: Iso.nullable(),
    hardDeadlineAt: Iso.nullable(),
    myOpenTaskIds: z.array(z.string()).openapi({ description: "The step's open tasks assigned to the caller's party." }),
  })
  .openapi('CurrentStep');

export const ProcessPage = z.object({ items: z.array(ProcessView), next: z.string().nullable() }).openapi('ProcessPage');

export const ProcessDetail = ProcessView.extend({
  currentStepDetail: CurrentStepDetail.nullable().openapi({ description: 'The current step from the running workflow (null when it ended or did not answer in time).' }),
  sla: z
    .object({
      name: z.string(),
      target: z.string(),
      elapsedMs: z.number(),
      remainingMs: z.number(),
      state: z.enum(['running', 'paused', 'stopped']),
      pausedSince: Iso.nullable(),
      pauseReason: z.string().nullable(),
      deadlineAt: Iso.nullable(),
      breachedAt: Iso.nullable(),
    })
    .nullable()
    .optional()
    .openapi({ description: "The process's SLA clock as of now, for the contract's provider and client (null otherwise, or when it has none)." }),
  journal: z.array(JournalEntryView),
}).openapi('ProcessDetail');

export const JournalView = z
  .object({ processId: z.string(), verification: JournalVerification, entries: z.array(JournalEntryView) })
  .openapi('Journal');

export const TaskView = z
  .object({
    id: z.string(),
    processId: z.string(),
    stepKey: z.string(),
    kind: z.enum(['execute', 'approve', 'consult', 'escalation', 'sign']),
    partyId: z.string(),
    team: z.string().nullable(),
    title: z.string(),
    details: z.unknown(),
    status: z.enum(['open', 'completing', 'done', 'cancelled', 'expired']),
    dueAt: Iso.nullable(),
    hardDeadlineAt: Iso.nullable(),
    completedBy: z.string().nullable(),
    completedAt: Iso.nullable(),
    createdAt: Iso,
    assigneeUserId: z.string().nullable().openapi({ description: 'The user of the party the task is assigned to; null: the whole party.' }),
  })
  .openapi('Task');

export const TaskPage = z.object({ items: z.array(TaskView), next: z.string().nullable() }).openapi('TaskPage');
