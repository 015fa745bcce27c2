// When things happen: business calendars (what counts as business time), recurring
// instants as Temporal-style calendar specs, maintenance windows and freezes.
import { z } from 'zod';
import { Duration } from './duration';
import { IsoDate, Slug } from './ids';
import { TimeZone } from './party';

const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] as const;
const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] as const;

/** One field of a calendar spec: an int, a range `8-14`, or a name (`TUE`, `MON-FRI`). */
function specField(label: string, min: number, max: number, names: readonly string[] = [], firstName = min) {
  const value = (token: string): number | undefined => {
    if (/^\d+$/.test(token)) return Number(token);
    const i = names.indexOf(token);
    return i < 0 ? undefined : firstName + i;
  };
  const example = names.length > 0 ? `, or a name such as ${names[1]}` : '';
  const problem = (v: number | string): string | undefined => {
    const [from, to, ...rest] = String(v).split('-');
    const a = from === undefined ? undefined : value(from);
    const b = to === undefined ? a : value(to);
    if (rest.length > 0 || a === undefined || b === undefined) return `${label} must be an integer, a range like ${min}-${max}${example}`;
    if (a < min || b > max || a > b) return `${label} must lie within ${min}-${max} (got ${v})`;
    return undefined;
  };
  const one = z.union([z.number().int(), z.string()]).superRefine((v, ctx) => {
    const why = problem(v);
    if (why) ctx.addIssue({ code: 'custom', message: why });
  });
  return z.union([one, z.array(one).min(1)]).optional();
}

/** Close to Temporal's calendar spec; the schedules code maps it onto ScheduleSpec. */
export const TemporalCalendarSpec = z.strictObject({
  second: specField('second', 0, 59),
  minute: specField('minute', 0, 59),
  hour: specField('hour', 0, 23),
  dayOfMonth: specField('dayOfMonth', 1, 31),
  month: specField('month', 1, 12, MONTH_NAMES, 1),
  year: specField('year', 1970, 9999),
  dayOfWeek: specField('dayOfWeek', 0, 6, DAY_NAMES, 0),
});
export type TemporalCalendarSpec = z.infer<typeof TemporalCalendarSpec>;

const day = '(?:mon|tue|wed|thu|fri|sat|sun)';
const DaySpec = z.string().regex(new RegExp(`^${day}(?:-${day})?$`), 'expected a day or day range such as mon-fri or sat');

const hoursShape = /^(?:[01]\d|2[0-3]):[0-5]\d-(?:(?:[01]\d|2[0-3]):[0-5]\d|24:00)$/;
const OpeningHours = z.string().superRefine((s, ctx) => {
  if (!hoursShape.test(s)) ctx.addIssue({ code: 'custom', message: 'expected hours such as 08:00-18:00' });
  else if (s.slice(0, 5) >= s.slice(6)) ctx.addIssue({ code: 'custom', message: 'opening hours must end after they start' });
});

/** What counts as business time for SLA clocks and business-day durations. */
export const BusinessCalendar = z.strictObject({
  timezone: TimeZone,
  hours: z.union([
    z.literal('24x7', { error: 'expected 24x7 or opening hours by day such as { mon-fri: "08:00-18:00" }' }),
    z.record(DaySpec, OpeningHours),
  ]),
  /** Public holidays of this country (ISO 3166 code), rule-based (Easter Monday…). */
  holidays: z.string().regex(/^[A-Z]{2}$/, 'expected a country code such as FR').optional(),
  closures: z.array(IsoDate).optional(),
});
export type BusinessCalendar = z.infer<typeof BusinessCalendar>;

export const MaintenanceWindow = z.strictObject({
  name: Slug,
  calendar: TemporalCalendarSpec,
  duration: Duration,
});
export type MaintenanceWindow = z.infer<typeof MaintenanceWindow>;

const MonthDay = z
  .string()
  .regex(/^(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])$/, 'expected a month and day MM-DD');

/** No changes but emergencies between from and to (may wrap over the new year). */
export const Freeze = z.strictObject({
  name: Slug,
  from: MonthDay,
  to: MonthDay,
  yearly: z.boolean().default(true),
});
export type Freeze = z.infer<typeof Freeze>;
