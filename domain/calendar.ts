// Business-time arithmetic on a contract's calendars: what SLA clocks and business-day
// deadlines count. Pure: luxon gives zone offsets, date-holidays the public holidays.
//
// Semantics (ServiceNow / Jira SLA practice: business durations consume open time only)
// - Open time: an instant is open when its wall-clock time in the calendar's zone lies in
//   an opening span of its weekday (`mon-fri: "08:00-18:00"`: [08:00, 18:00); several keys
//   naming one day add up) and its local date is neither a public holiday (date-holidays,
//   type 'public' only, whole local date) nor a closure. `24x7` opens every whole day.
//   DST follows the wall clock: 01:00-05:00 holds 3 real hours on a spring-forward night
//   and 5 on a fall-back night (the repeated hour is open twice).
// - businessTimeBetween(from, to): ms of open time in [from, to); 0 when to <= from.
// - Time durations (`PT4H`, `PT30M`) and day/week durations (`P2D` = 48 h, `P1W`) are
//   amounts of open time. On a 24x7 calendar without holidays or closures that is plain
//   elapsed time; on an office calendar `P2D` means 48 business hours (as ServiceNow
//   does): write `P2BD` for business days.
// - Business days (`P3BD`): a business day is a local date with open time. The start
//   counts from the first open instant at or after it (Friday 19:00 counts from Monday
//   08:00). The deadline is that same wall-clock time on the N-th following business
//   day; if that day is not open at that time, it is clamped into the day's open time:
//   after its close → its close; before its opening or in a break → the end of the
//   previous open span (no business time passes in between: Monday 08:00 + P1BD is
//   Monday 18:00, Friday 19:00 + P1BD is Monday 18:00). A wall time skipped by DST maps
//   to the change; a repeated one to its first occurrence. `P1BDT2H` adds 2 business
//   hours after that.
// - Every result is the earliest instant carrying that much open time: a deadline falls
//   at a close (Friday 17:00 + PT1H = Friday 18:00), never at the next opening.
// - Instants are epoch ms or ISO strings; an ISO string without offset is wall-clock
//   time in the calendar's zone.
// Assumes a zone's local date never goes backwards (no fall-back across midnight).
import type { BusinessCalendar } from './calendar-spec';
import { PublicHolidays } from './calendar-holidays';
import { DAY_MS, MINUTE_MS, ZoneClock, dayOfIsoDate, sortedUnion, toInstant, weekdayOfDay } from './calendar-zone';
import type { Instant } from './calendar-zone';
import { parseDuration } from './duration';
import type { ParsedDuration } from './duration';

export { isInWindow, nextWindowStart, windowAt } from './calendar-windows';
export type { WindowOccurrence } from './calendar-windows';

/** Ten years without any open time: the calendar never opens. */
const NEVER_OPEN_DAYS = 3660;
const CACHE_LIMIT = 20_000;
const DAY_KEYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
const NO_TIME: readonly number[] = [];

export type { Instant } from './calendar-zone';

/** A business calendar ready for arithmetic; open intervals are memoised per local date. */
export class CompiledCalendar {
  readonly clock: ZoneClock;
  /** 24x7 without holidays or closures: open time is elapsed time. */
  readonly alwaysOpen: boolean;
  /** Per weekday (0 = Sunday), sorted disjoint [from, to] ms-of-day pairs. */
  private readonly spans: number[][];
  private readonly holidays: PublicHolidays | undefined;
  private readonly closures: Set<number>;
  private readonly days = new Map<number, readonly number[]>();

  constructor(readonly spec: BusinessCalendar) {
    this.clock = ZoneClock.of(spec.timezone);
    this.spans = openingSpans(spec.hours);
    this.holidays = spec.holidays === undefined ? undefined : new PublicHolidays(spec.holidays);
    this.closures = new Set((spec.closures ?? []).map(dayOfIsoDate));
    this.alwaysOpen = spec.hours === '24x7' && !this.holidays && this.closures.size === 0;
  }

  /** True when local date `day` has no opening: weekend, public holiday or closure. */
  isClosedDay(day: number): boolean {
    return this.spans[weekdayOfDay(day)]!.length === 0 || this.closures.has(day) || (this.holidays?.has(day) ?? false);
  }

  /** Open time of local date `day` as sorted [start, end, …] epoch-ms pairs. */
  openIntervals(day: number): readonly number[] {
    let intervals = this.days.get(day);
    if (intervals) return intervals;
    if (this.isClosedDay(day)) intervals = NO_TIME;
    else {
      const pairs: number[] = [];
      const spans = this.spans[weekdayOfDay(day)]!;
      for (let i = 0; i < spans.length; i += 2) this.clock.instantsOfWall(day, spans[i]!, spans[i + 1]!, pairs);
      intervals = sortedUnion(pairs);
    }
    if (this.days.size >= CACHE_LIMIT) this.days.clear();
    this.days.set(day, intervals);
    return intervals;
  }

  toInstant(instant: Instant): number {
    return toInstant(instant, this.spec.timezone);
  }
}

/** `{ mon-fri: "08:00-18:00", sat: "09:00-12:00" }` → sorted ms-of-day pairs per weekday. */
function openingSpans(hours: BusinessCalendar['hours']): number[][] {
  const byDay: number[][] = DAY_KEYS.map(() => []);
  if (hours === '24x7') return byDay.map(() => [0, DAY_MS]);
  for (const [days, span] of Object.entries(hours)) {
    const d = /^(mon|tue|wed|thu|fri|sat|sun)(?:-(mon|tue|wed|thu|fri|sat|sun))?$/.exec(days);
    const h = /^(\d\d):(\d\d)-(\d\d):(\d\d)$/.exec(span);
    if (!d || !h) throw new RangeError(`opening hours ${days}: "${span}" should read like mon-fri: "08:00-18:00"`);
    const from = (Number(h[1]) * 60 + Number(h[2])) * MINUTE_MS;
    const to = (Number(h[3]) * 60 + Number(h[4])) * MINUTE_MS;
    if (from >= to || to > DAY_MS) throw new RangeError(`opening hours ${days}: "${span}" must end after they start, by 24:00`);
    // Day ranges run Monday to Sunday and may wrap: fri-mon is Fri, Sat, Sun, Mon.
    const first = DAY_KEYS.indexOf(d[1] as (typeof DAY_KEYS)[number]);
    const last = DAY_KEYS.indexOf((d[2] ?? d[1]) as (typeof DAY_KEYS)[number]);
    const count = (((last - first) % 7) + 7) % 7;
    for (let i = 0; i <= count; i++) byDay[(first + i) % 7]!.push(from, to);
  }
  return byDay.map(sortedUnion);
}

const compiled = new WeakMap<BusinessCalendar, CompiledCalendar>();

/** Compiles a calendar (holiday sets are computed lazily, per year, on first use). */
export function compileCalendar(cal: BusinessCalendar): CompiledCalendar {
  let c = compiled.get(cal);
  if (!c) {
    c = new CompiledCalendar(cal);
    compiled.set(cal, c);
  }
  return c;
}

type CalendarInput = CompiledCalendar | BusinessCalendar;

function calendarOf(cal: CalendarInput): CompiledCalendar {
  return cal instanceof CompiledCalendar ? cal : compileCalendar(cal);
}

function neverOpens(c: CompiledCalendar): never {
  throw new RangeError(`calendar in ${c.spec.timezone} has no open time in ${NEVER_OPEN_DAYS} days`);
}

/** True when the instant is business time. */
export function isOpen(cal: CalendarInput, instant: Instant): boolean {
  const c = calendarOf(cal);
  const t = c.toInstant(instant);
  if (c.alwaysOpen) return true;
  const iv = c.openIntervals(c.clock.dayOf(t));
  for (let i = 0; i < iv.length; i += 2) if (t >= iv[i]! && t < iv[i + 1]!) return true;
  return false;
}

/** The instant itself when open, otherwise the next opening. */
export function nextOpening(cal: CalendarInput, instant: Instant): number {
  const c = calendarOf(cal);
  return openingFrom(c, c.toInstant(instant));
}

function openingFrom(c: CompiledCalendar, t: number): number {
  if (c.alwaysOpen) return t;
  const first = c.clock.dayOf(t);
  for (let day = first; day <= first + NEVER_OPEN_DAYS; day++) {
    const iv = c.openIntervals(day);
    for (let i = 0; i < iv.length; i += 2) if (iv[i + 1]! > t) return Math.max(iv[i]!, t);
  }
  return neverOpens(c);
}

/** Ms of open time in [from, to). */
export function businessTimeBetween(cal: CalendarInput, from: Instant, to: Instant): number {
  const c = calendarOf(cal);
  const a = c.toInstant(from);
  const b = c.toInstant(to);
  if (b <= a) return 0;
  if (c.alwaysOpen) return b - a;
  let total = 0;
  const last = c.clock.dayOf(b);
  for (let day = c.clock.dayOf(a); day <= last; day++) {
    const iv = c.openIntervals(day);
    for (let i = 0; i < iv.length; i += 2) {
      const s = Math.max(iv[i]!, a);
      const e = Math.min(iv[i + 1]!, b);
      if (e > s) total += e - s;
    }
  }
  return total;
}

/** Earliest instant t >= start with `amount` ms of open time in [start, t). */
function addOpenTime(c: CompiledCalendar, start: number, amount: number): number {
  if (amount <= 0) return start;
  if (c.alwaysOpen) return start + amount;
  let left = amount;
  let lastOpen = c.clock.dayOf(start);
  for (let day = lastOpen; day - lastOpen <= NEVER_OPEN_DAYS; day++) {
    const iv = c.openIntervals(day);
    if (iv.length > 0) lastOpen = day;
    for (let i = 0; i < iv.length; i += 2) {
      const e = iv[i + 1]!;
      if (e <= start) continue;
      const s = Math.max(iv[i]!, start);
      if (e - s >= left) return s + left;
      left -= e - s;
    }
  }
  return neverOpens(c);
}

/** The end of the open time before `t` (an opening), but not before `floor`. */
function previousClose(c: CompiledCalendar, t: number, floor: number): number {
  for (let day = c.clock.dayOf(t); ; day--) {
    const iv = c.openIntervals(day);
    for (let i = iv.length - 1; i > 0; i -= 2) if (iv[i]! <= t) return Math.max(iv[i]!, floor);
    // Reached only after the start's own business day was passed: nothing opened since.
    if (day * DAY_MS < floor - 2 * DAY_MS) return floor;
  }
}

/** Same wall-clock time as `from` on the `days`-th following business day, clamped (see header). */
function addBusinessDays(c: CompiledCalendar, start: number, days: number): number {
  const from = openingFrom(c, start);
  const firstDay = c.clock.dayOf(from);
  const timeOfDay = c.clock.wallOf(from) - firstDay * DAY_MS;
  let day = firstDay;
  for (let counted = 0, idle = 0; counted < days; ) {
    day++;
    if (c.openIntervals(day).length > 0) {
      counted++;
      idle = 0;
    } else if (++idle > NEVER_OPEN_DAYS) neverOpens(c);
  }
  const iv = c.openIntervals(day);
  for (let i = 0; i < iv.length; i += 2) {
    const t = c.clock.firstAtOrAfterWall(day, timeOfDay, iv[i]!, iv[i + 1]!);
    if (t === undefined) continue;
    // At an opening: the same business time was already reached at the previous close.
    return t === iv[i] ? previousClose(c, t, start) : t;
  }
  return iv[iv.length - 1]!;
}

const durations = new Map<string, ParsedDuration>();

function durationOf(duration: string): ParsedDuration {
  let d = durations.get(duration);
  if (!d) {
    d = parseDuration(duration);
    if (durations.size < 1000) durations.set(duration, d);
  }
  return d;
}

/**
 * The instant when `duration` of business time has passed since `instant` (epoch ms).
 * `PT4H`: 4 open hours; `P3BD`: 3 business days (same wall-clock time); see the header.
 */
export function addBusinessDuration(cal: CalendarInput, instant: Instant, duration: string): number {
  const c = calendarOf(cal);
  const start = c.toInstant(instant);
  const d = durationOf(duration);
  switch (d.kind) {
    case 'elapsed':
      return addOpenTime(c, start, d.ms);
    case 'business': {
      if (d.days === 0) return addOpenTime(c, start, d.ms);
      return addOpenTime(c, addBusinessDays(c, start, d.days), d.ms);
    }
    case 'calendar':
      throw new RangeError(`${duration}: months and years have no fixed business length`);
  }
}
