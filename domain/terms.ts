// The contract's terms besides the matrix: change policy, escalation, service levels,
// pricing, backups, recurring work and the exit plan.
import { z } from 'zod';
import { Duration, Percent } from './duration';
import { ActivityKey, Slug, TimeOfDay } from './ids';
import { TemporalCalendarSpec } from './calendar-spec';

export const ChangePolicy = z.strictObject({
  /** Pre-approved changes, by name. */
  standard: z.array(Slug).default([]),
  normal: z.strictObject({
    /** Normal changes are approved by the activity's A. */
    approver: z.literal('A'),
    expiresAfter: Duration,
  }),
  emergency: z.strictObject({
    approver: z.strictObject({ party: Slug, team: Slug.optional() }),
    mayRunInFreeze: z.boolean(),
  }),
});
export type ChangePolicy = z.infer<typeof ChangePolicy>;

export const EscalationLevel = z
  .strictObject({
    level: z.number().int().positive(),
    team: Slug.optional(),
    role: Slug.optional(),
    /** How late a step is before this level is called. */
    after: Duration,
  })
  .refine((l) => l.team !== undefined || l.role !== undefined, 'an escalation level names a team or a role');
export type EscalationLevel = z.infer<typeof EscalationLevel>;

export const Priority = z.enum(['P1', 'P2', 'P3', 'P4']);
export type Priority = z.infer<typeof Priority>;

export const PriorityTarget = z.strictObject({
  /** Overrides the support calendar for this priority (P1 often counts 24x7). */
  calendar: Slug.optional(),
  response: Duration,
  resolution: Duration,
  /** Share of tickets of the month that must meet the targets. */
  attainment: Percent.optional(),
});
export type PriorityTarget = z.infer<typeof PriorityTarget>;

export const SupportSla = z.strictObject({
  calendar: Slug.optional(),
  P1: PriorityTarget.optional(),
  P2: PriorityTarget.optional(),
  P3: PriorityTarget.optional(),
  P4: PriorityTarget.optional(),
  /** Reasons that stop the clock, e.g. pending-customer. */
  exclusions: z.array(Slug).default([]),
});
export type SupportSla = z.infer<typeof SupportSla>;

export const AvailabilityTarget = z.strictObject({ target: Percent, calendar: Slug.optional() });
export type AvailabilityTarget = z.infer<typeof AvailabilityTarget>;

/** Credits owed per breach, as a share of the monthly fee, capped per month. */
export const Credits = z.strictObject({
  P1: Percent.optional(),
  P2: Percent.optional(),
  P3: Percent.optional(),
  P4: Percent.optional(),
  availability: Percent.optional(),
  capPerMonth: Percent.optional(),
});
export type Credits = z.infer<typeof Credits>;

export const Slas = z.strictObject({
  support: SupportSla.optional(),
  availability: z.record(Slug, AvailabilityTarget).optional(),
  credits: Credits.optional(),
});
export type Slas = z.infer<typeof Slas>;

/** Operational level agreements: party → activity → target, measured like SLAs. */
export const Olas = z.record(Slug, z.record(ActivityKey, z.strictObject({ due: Duration })));
export type Olas = z.infer<typeof Olas>;

/** Money is an integer number of minor units (cents). */
export const MinorUnits = z.number().int('money is an integer number of minor units').nonnegative();
export type MinorUnits = z.infer<typeof MinorUnits>;

export const Pricing = z.strictObject({
  /** Billed in advance. */
  monthlyFee: MinorUnits,
  vat: Percent,
  indexation: z
    .strictObject({
      index: z.string().min(1),
      base: z.string().regex(/^\d{4}-(?:0[1-9]|1[0-2])$/, 'expected a month YYYY-MM'),
      yearly: z.boolean(),
    })
    .optional(),
  rounding: z.enum(['half-up-per-line', 'half-even-per-line']),
  /** Out-of-scope work, billed in arrears after the client's order. */
  outOfScope: z
    .record(
      Slug,
      z.strictObject({
        /** Units included in the fee before unit prices apply. */
        included: z.number().int().nonnegative().optional(),
        perMonth: z.boolean().optional(),
        unitPrice: MinorUnits,
      }),
    )
    .default({}),
});
export type Pricing = z.infer<typeof Pricing>;

export const BackupPolicy = z.strictObject({
  assets: z.array(Slug).min(1),
  expectedBy: TimeOfDay,
  retention: Duration,
  verify: Slug.optional(),
});
export type BackupPolicy = z.infer<typeof BackupPolicy>;

/** Recurring work, run as a Temporal Schedule. */
export const Schedule = z.strictObject({
  process: Slug,
  calendar: TemporalCalendarSpec,
  /** Approved now, run in the next occurrence of this maintenance window. */
  runIn: Slug.optional(),
  /** The process's input for each run (validated by the process's input schema at run time). */
  input: z.record(z.string(), z.unknown()).optional(),
});
export type Schedule = z.infer<typeof Schedule>;

export const Reversibility = z.strictObject({
  returnData: z.array(Slug).min(1),
  handover: Duration,
  keepEvidence: Duration,
});
export type Reversibility = z.infer<typeof Reversibility>;

/** Who may end the contract by notice (the exit process then runs). Absent: either party. */
export const Termination = z.strictObject({
  by: z.array(z.enum(['provider', 'client'])).min(1, 'name who may give notice: provider, client or both'),
});
export type Termination = z.infer<typeof Termination>;
