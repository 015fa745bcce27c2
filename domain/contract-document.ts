// The shape of one immutable contract version, field by field. Rules that relate
// fields to each other are in contract-rules.ts; contract.ts joins both.
import { z } from 'zod';
import { BusinessCalendar, Freeze, MaintenanceWindow } from './calendar-spec';
import { ServiceKey } from './catalogue';
import { ActivityKey, IsoDate, Slug } from './ids';
import { Party } from './party';
import { Responsibility } from './responsibility';
import { Scope } from './scope';
import { BackupPolicy, ChangePolicy, EscalationLevel, Olas, Pricing, Reversibility, Schedule, Slas, Termination } from './terms';

export const ContractDocument = z.strictObject({
  id: Slug,
  title: z.string().min(1),
  term: z.strictObject({ start: IsoDate, end: IsoDate }),
  /** No SLA penalties until this date. */
  stabilisationUntil: IsoDate.optional(),
  currency: z.string().regex(/^[A-Z]{3}$/, 'expected an ISO 4217 currency code such as EUR'),
  parties: z.array(Party),
  scope: Scope,
  backupPolicy: z.array(BackupPolicy).optional(),
  services: z.array(ServiceKey),
  calendars: z.record(Slug, BusinessCalendar).default({}),
  maintenanceWindows: z.array(MaintenanceWindow).default([]),
  freezes: z.array(Freeze).default([]),
  changePolicy: ChangePolicy,
  /** Party id → levels, called in order when a step is late. */
  escalation: z.record(Slug, z.array(EscalationLevel).min(1)).default({}),
  /** Activity key → one row, or rows scoped by asset. */
  responsibilities: z.record(ActivityKey, Responsibility).default({}),
  slas: Slas.optional(),
  olas: Olas.optional(),
  pricing: Pricing,
  schedules: z.record(Slug, Schedule).default({}),
  reversibility: Reversibility.optional(),
  /** Termination by notice: who may give it (docs/ARCHITECTURE.md "Contract signing"). */
  termination: Termination.optional(),
});
export type ContractDocument = z.infer<typeof ContractDocument>;
