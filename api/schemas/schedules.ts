// Request and response shapes of the schedule routes, documented in the OpenAPI spec.
import { z } from 'zod';
import '../spec';

const Iso = z.string().openapi({ format: 'date-time', example: '2027-03-09T08:00:00.000Z' });

export const ScheduleAction = z
  .object({
    scheduledAt: Iso,
    takenAt: Iso,
    workflowId: z.string().openapi({ example: 'mandate:ctr-martin-2027:backup:scheduled-2027-03-08T00:00:00Z' }),
  })
  .openapi('ScheduleAction');

export const ScheduleView = z
  .object({
    name: z.string().openapi({ example: 'monthly-patching' }),
    id: z.string().openapi({ example: 'mandate:ctr-martin-2027:monthly-patching' }),
    process: z.string().openapi({ example: 'patch-cycle' }),
    spec: z.string().openapi({ example: 'dayOfMonth=8-14 dayOfWeek=TUE hour=9', description: "The contract's calendar spec, read in `timezone`." }),
    timezone: z.string().openapi({ example: 'Europe/Paris' }),
    runIn: z.string().nullable().openapi({ description: 'The maintenance window the run waits for after approval.' }),
    overlapPolicy: z.string().openapi({ example: 'SKIP' }),
    exists: z.boolean().openapi({ description: 'False until the contract is active (or when the sync failed).' }),
    inSync: z.boolean().openapi({ description: 'Temporal runs exactly what the current contract version says.' }),
    paused: z.boolean(),
    note: z.string().nullable().openapi({ description: 'Why it is paused (or was resumed).' }),
    nextActionTimes: z.array(Iso),
    recentActions: z.array(ScheduleAction),
  })
  .openapi('Schedule');

export const ScheduleList = z.object({ contractId: z.string(), items: z.array(ScheduleView) }).openapi('ScheduleList');

export const PauseScheduleBody = z.object({ note: z.string().trim().min(1).max(500).openapi({ example: 'datacentre move, see change 1234' }) }).strict().openapi('PauseSchedule');
export const ResumeScheduleBody = z.object({ note: z.string().trim().min(1).max(500).optional() }).strict().openapi('ResumeSchedule');
