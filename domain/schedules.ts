// A contract's recurring work as Temporal Schedules: pure mapping of its `schedules:`
// onto Temporal's calendar specs and policies, a stable hash of each, and the business
// key a scheduled run takes from its scheduled time (docs/ARCHITECTURE.md "Recurring work").
import { DateTime } from 'luxon';
import type { Contract } from './contract';
import type { MaintenanceWindow, TemporalCalendarSpec } from './calendar-spec';

// Temporal's calendar shape (@temporalio/client CalendarSpec), typed here: domain/ stays free of @temporalio.
export const DAYS_OF_WEEK = ['SUNDAY', 'MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY'] as const;
export const MONTHS = ['JANUARY', 'FEBRUARY', 'MARCH', 'APRIL', 'MAY', 'JUNE', 'JULY', 'AUGUST', 'SEPTEMBER', 'OCTOBER', 'NOVEMBER', 'DECEMBER'] as const;
export type DayOfWeek = (typeof DAYS_OF_WEEK)[number];
export type Month = (typeof MONTHS)[number];
export interface Range<U> {
  start: U;
  end: U;
  step: number;
}
/** Omitted fields keep Temporal's defaults: second, minute, hour 0; days, months, years any. */
export interface CalendarSpec {
  second?: Range<number>[];
  minute?: Range<number>[];
  hour?: Range<number>[];
  dayOfMonth?: Range<number>[];
  month?: Range<Month>[];
  year?: Range<number>[];
  dayOfWeek?: Range<DayOfWeek>[];
  comment?: string;
}

export type OverlapPolicy = 'SKIP' | 'BUFFER_ONE' | 'BUFFER_ALL' | 'CANCEL_OTHER' | 'TERMINATE_OTHER' | 'ALLOW_ALL';

/** How a run's business key is cut from its scheduled time (see businessKeyFor). */
export type KeyBy = 'period' | 'day' | 'time';

export interface ContractSchedule {
  /** `mandate:<contractId>:<name>`: the Temporal schedule id. */
  id: string;
  name: string;
  process: string;
  calendars: CalendarSpec[];
  /** IANA zone the calendar fields are read in: the provider party's. */
  timezone: string;
  overlapPolicy: OverlapPolicy;
  catchupWindowMs: number;
  keyBy: KeyBy;
  /** The maintenance window the run waits for after approval (`runIn`), as the contract defines it. */
  runIn?: MaintenanceWindow;
  /** Each run's input, as the contract gives it. */
  input?: Record<string, unknown>;
  /** FNV-1a 64 over the canonical JSON of every field above. */
  specHash: string;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * Per kind of work. Billing: every period is billed once even after an outage, and a
 * period awaiting approval never holds back the next (runs are keyed by period).
 * Operational work: a late run collides with the next or with business hours; skip it.
 */
const POLICIES: Readonly<Record<string, { overlapPolicy: OverlapPolicy; catchupWindowMs: number }>> = {
  'contract-billing': { overlapPolicy: 'ALLOW_ALL', catchupWindowMs: 45 * DAY },
  backup: { overlapPolicy: 'SKIP', catchupWindowMs: 1 * HOUR },
  'patch-cycle': { overlapPolicy: 'SKIP', catchupWindowMs: 1 * DAY },
  'restore-test': { overlapPolicy: 'SKIP', catchupWindowMs: 1 * DAY },
};
const DEFAULT_POLICY = { overlapPolicy: 'SKIP', catchupWindowMs: 1 * HOUR } as const satisfies (typeof POLICIES)[string];

export function policyFor(process: string): { overlapPolicy: OverlapPolicy; catchupWindowMs: number } {
  return Object.hasOwn(POLICIES, process) ? POLICIES[process]! : DEFAULT_POLICY;
}

export const SCHEDULE_ID_PREFIX = 'mandate:';
export const scheduleIdPrefix = (contractId: string): string => `${SCHEDULE_ID_PREFIX}${contractId}:`;
export const scheduleIdFor = (contractId: string, name: string): string => `${scheduleIdPrefix(contractId)}${name}`;

/** The provider's zone: the schedules are the provider's recurring work and its people act on them. */
export function scheduleTimezone(contract: Pick<Contract, 'parties'>): string {
  const provider = contract.parties.find((p) => p.kind === 'provider');
  return provider?.timezone ?? 'UTC';
}

/** Every schedule of the contract, sorted by name. */
export function schedulesOf(contract: Pick<Contract, 'id' | 'parties' | 'schedules' | 'maintenanceWindows'>): ContractSchedule[] {
  const timezone = scheduleTimezone(contract);
  return Object.keys(contract.schedules)
    .sort()
    .map((name) => {
      const s = contract.schedules[name]!;
      const runIn = s.runIn === undefined ? undefined : contract.maintenanceWindows.find((w) => w.name === s.runIn);
      const calendars = [toTemporalCalendar(s.calendar)];
      const fields: Omit<ContractSchedule, 'specHash'> = {
        id: scheduleIdFor(contract.id, name),
        name,
        process: s.process,
        calendars,
        timezone,
        ...policyFor(s.process),
        keyBy: s.process === 'contract-billing' ? 'period' : firesMoreThanOncePerDay(s.calendar) ? 'time' : 'day',
        ...(runIn ? { runIn } : {}),
        ...(s.input ? { input: s.input } : {}),
      };
      return { ...fields, specHash: specHash(fields) };
    });
}

type Field = TemporalCalendarSpec[keyof TemporalCalendarSpec];

/** Our calendar spec (ints, `8-14`, `TUE`, `MON-FRI`, lists) → Temporal's `{ start, end, step }` ranges. */
export function toTemporalCalendar(spec: TemporalCalendarSpec): CalendarSpec {
  const out: CalendarSpec = {};
  const num = (v: NonNullable<Field>) => ranges<number>(v, (t) => Number(t));
  if (spec.second !== undefined) out.second = num(spec.second);
  if (spec.minute !== undefined) out.minute = num(spec.minute);
  if (spec.hour !== undefined) out.hour = num(spec.hour);
  if (spec.dayOfMonth !== undefined) out.dayOfMonth = num(spec.dayOfMonth);
  if (spec.year !== undefined) out.year = num(spec.year);
  if (spec.month !== undefined) out.month = ranges(spec.month, (t) => MONTHS[named(t, MONTH_ABBR, 1) - 1]!);
  if (spec.dayOfWeek !== undefined) out.dayOfWeek = ranges(spec.dayOfWeek, (t) => DAYS_OF_WEEK[named(t, DAY_ABBR, 0)]!);
  return out;
}

const DAY_ABBR = DAYS_OF_WEEK.map((d) => d.slice(0, 3));
const MONTH_ABBR = MONTHS.map((m) => m.slice(0, 3));

/** A token as a number: digits, or an abbreviated name (validated by the contract schema). */
function named(token: string, names: readonly string[], first: number): number {
  if (/^\d+$/.test(token)) return Number(token);
  const i = names.indexOf(token.toUpperCase());
  if (i < 0) throw new RangeError(`"${token}" is not one of ${names.join(', ')}`);
  return first + i;
}

function ranges<U>(value: NonNullable<Field>, unit: (token: string) => U): Range<U>[] {
  const items = Array.isArray(value) ? value : [value];
  return items.map((item) => {
    const [from = '', to] = String(item).split('-');
    const start = unit(from.trim());
    return { start, end: to === undefined ? start : unit(to.trim()), step: 1 };
  });
}

/** How many values a time-of-day field matches; omitted = Temporal's default of 0 (one value). */
function countOf(value: Field): number {
  if (value === undefined) return 1;
  return ranges(value, Number).reduce((n, r) => n + (r.end - r.start + 1), 0);
}

function firesMoreThanOncePerDay(spec: TemporalCalendarSpec): boolean {
  return countOf(spec.hour) * countOf(spec.minute) * countOf(spec.second) > 1;
}

/**
 * The business key of a scheduled run, from its scheduled time read in the schedule's zone:
 * contract-billing → the period `2027-03` (one invoice per month, whatever triggered it);
 * daily or rarer work → `<schedule>.2027-03-08`; work several times a day →
 * `<schedule>.2027-03-08T01:00`. The schedule name keeps two schedules of one process apart.
 */
export function businessKeyFor(
  scheduleName: string,
  scheduledTime: string,
  process: string,
  opts: { timezone?: string; keyBy?: KeyBy } = {},
): string {
  const at = DateTime.fromISO(scheduledTime, { zone: 'UTC' });
  if (!at.isValid) throw new RangeError(`"${scheduledTime}" is not an ISO instant`);
  const local = at.setZone(opts.timezone ?? 'UTC');
  if (!local.isValid) throw new RangeError(`"${opts.timezone}" is not a time zone`);
  const keyBy = opts.keyBy ?? (process === 'contract-billing' ? 'period' : 'day');
  if (keyBy === 'period') return local.toFormat('yyyy-MM');
  return `${scheduleName}.${local.toFormat(keyBy === 'time' ? "yyyy-MM-dd'T'HH:mm" : 'yyyy-MM-dd')}`;
}

/**
 * The one argument of a scheduled run: a ProcessStart whose `businessKey` is empty. The
 * run derives it with businessKeyFor(schedule.name, TemporalScheduledStartTime, processType,
 * schedule) and reads the contract version in force; `version` only says which version
 * last wrote the schedule.
 */
export interface ScheduledStart {
  contractId: string;
  version: number;
  processType: string;
  businessKey: '';
  /** `schedule:<name>` on behalf of the provider. */
  requestedBy: { userId: string; partyId: string };
  input: Record<string, unknown>;
  schedule: { id: string; name: string; timezone: string; keyBy: KeyBy; runIn?: MaintenanceWindow };
}

export function scheduledStartOf(contract: Pick<Contract, 'id' | 'parties'>, version: number, s: ContractSchedule): ScheduledStart {
  const provider = contract.parties.find((p) => p.kind === 'provider');
  return {
    contractId: contract.id,
    version,
    processType: s.process,
    businessKey: '',
    requestedBy: { userId: `schedule:${s.name}`, partyId: provider?.id ?? '' },
    input: s.input ?? {},
    schedule: { id: s.id, name: s.name, timezone: s.timezone, keyBy: s.keyBy, ...(s.runIn ? { runIn: s.runIn } : {}) },
  };
}

/** Our spec as the contract writes it, for people: `dayOfWeek=TUE dayOfMonth=8-14 hour=9`. */
export function describeCalendar(spec: TemporalCalendarSpec): string {
  const order = ['month', 'dayOfMonth', 'dayOfWeek', 'hour', 'minute', 'second', 'year'] as const;
  return order
    .filter((k) => spec[k] !== undefined)
    .map((k) => {
      const v = spec[k]!;
      return `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`;
    })
    .join(' ');
}

/**
 * Canonical JSON (keys sorted, undefined dropped) hashed with 64-bit FNV-1a. Not
 * node:crypto: domain/ is pure and also runs in the workflow sandbox. This is change
 * detection, not security: a collision would only miss one update.
 */
export function specHash(value: unknown): string {
  const text = canonicalJson(value);
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h = ((h ^ BigInt(c & 0xff)) * 0x100000001b3n) & 0xffffffffffffffffn;
    h = ((h ^ BigInt(c >>> 8)) * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, '0');
}

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}
