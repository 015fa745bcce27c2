// Maintenance windows and change freezes, in the contract's time zone.
//
// - A window starts at each wall-clock time its Temporal-style calendar spec matches
//   (as Temporal schedules: second, minute and hour default to 0; day of month, month,
//   year and day of week to every value; dayOfWeek 0 = SUN). A start time skipped by a
//   DST change starts at the change (Paris 02:30 on the last Sunday of March → 03:00
//   CEST); a repeated one starts once, at its first occurrence.
// - A window lasts its duration in elapsed time, as a Temporal schedule would run it:
//   sunday-night (SUN 01:00, PT4H) ends at 06:00 CEST on the last Sunday of March and at
//   04:00 CET on the last Sunday of October, 4 real hours both times.
// - A freeze covers whole local dates from `from` to `to` included, every year, and may
//   wrap over the new year (12-15 → 01-05). `yearly: false` is treated as yearly too:
//   without a year the schema cannot place a one-off freeze, and dropping it would let
//   changes into the frozen weeks. A window occurrence is frozen when any of its local
//   dates is.
import type { Freeze, MaintenanceWindow, TemporalCalendarSpec } from './calendar-spec';
import { MINUTE_MS, ZoneClock, civilFromDays, toInstant, weekdayOfDay } from './calendar-zone';
import type { Instant } from './calendar-zone';
import { parseDuration } from './duration';

export interface WindowOccurrence {
  name: string;
  /** Epoch ms. */
  start: number;
  /** Epoch ms, excluded. */
  end: number;
}

const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
/** Ten years: a spec that matches nothing sooner (FEB 30, a past year) matches nothing. */
const HORIZON_DAYS = 3660;

interface CompiledWindow {
  name: string;
  length: number;
  /** Sorted ms of the day at which the window starts. */
  times: number[];
  years: Set<number> | undefined;
  months: Set<number> | undefined;
  daysOfMonth: Set<number> | undefined;
  daysOfWeek: Set<number> | undefined;
}

type SpecValue = TemporalCalendarSpec['hour'];

/** Values of one spec field (`TUE`, `MON-FRI`, `8-14`, [1, "3-4"]); undefined = every value. */
function values(field: SpecValue, names: string[] = [], firstName = 0): Set<number> | undefined {
  if (field === undefined) return undefined;
  const out = new Set<number>();
  const one = (token: string): number => {
    const i = names.indexOf(token.toUpperCase());
    const n = i >= 0 ? firstName + i : /^\d+$/.test(token) ? Number(token) : NaN;
    if (Number.isNaN(n)) throw new RangeError(`"${token}" is not a calendar spec value`);
    return n;
  };
  for (const item of Array.isArray(field) ? field : [field]) {
    const [from = '', to] = String(item).split('-');
    const a = one(from);
    const b = to === undefined ? a : one(to);
    for (let v = a; v <= b; v++) out.add(v);
  }
  return out;
}

const compiledWindows = new WeakMap<MaintenanceWindow, CompiledWindow>();

function compileWindow(w: MaintenanceWindow): CompiledWindow {
  let c = compiledWindows.get(w);
  if (c) return c;
  const d = parseDuration(w.duration);
  if (d.kind !== 'elapsed' || d.ms <= 0) throw new RangeError(`window ${w.name}: a window lasts elapsed time such as PT4H, not ${w.duration}`);
  const spec = w.calendar;
  const times: number[] = [];
  for (const h of values(spec.hour) ?? [0])
    for (const m of values(spec.minute) ?? [0])
      for (const s of values(spec.second) ?? [0]) times.push((h * 60 + m) * MINUTE_MS + s * 1000);
  c = {
    name: w.name,
    length: d.ms,
    times: times.sort((a, b) => a - b),
    years: values(spec.year),
    months: values(spec.month, MONTH_NAMES, 1),
    daysOfMonth: values(spec.dayOfMonth),
    daysOfWeek: values(spec.dayOfWeek, DAY_NAMES, 0),
  };
  compiledWindows.set(w, c);
  return c;
}

function matchesDay(w: CompiledWindow, day: number): boolean {
  const { year, month, day: dom } = civilFromDays(day);
  return (
    (w.years?.has(year) ?? true) &&
    (w.months?.has(month) ?? true) &&
    (w.daysOfMonth?.has(dom) ?? true) &&
    (w.daysOfWeek?.has(weekdayOfDay(day)) ?? true)
  );
}

/** Occurrences of one window starting at or after `from`, in order, for the next ten years. */
function* occurrences(w: CompiledWindow, clock: ZoneClock, from: number): Generator<WindowOccurrence> {
  const first = clock.dayOf(from);
  let previous = Number.NEGATIVE_INFINITY;
  for (let day = first; day <= first + HORIZON_DAYS; day++) {
    if (!matchesDay(w, day)) continue;
    for (const time of w.times) {
      const start = clock.firstAtOrAfterWall(day, time, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY)!;
      // Two start times inside one DST gap both start at the change: once.
      if (start < from || start === previous) continue;
      previous = start;
      yield { name: w.name, start, end: start + w.length };
    }
  }
}

function monthDay(s: string): number {
  return Number(s.slice(0, 2)) * 100 + Number(s.slice(3, 5));
}

function isFrozenDay(freezes: readonly Freeze[], day: number): boolean {
  const { month, day: dom } = civilFromDays(day);
  const md = month * 100 + dom;
  return freezes.some((f) => {
    const from = monthDay(f.from);
    const to = monthDay(f.to);
    return from <= to ? md >= from && md <= to : md >= from || md <= to;
  });
}

function isFrozen(freezes: readonly Freeze[], clock: ZoneClock, o: WindowOccurrence): boolean {
  const last = clock.dayOf(o.end - 1);
  for (let day = clock.dayOf(o.start); day <= last; day++) if (isFrozenDay(freezes, day)) return true;
  return false;
}

/**
 * The earliest window occurrence starting at or after `after` that touches no frozen
 * date (emergency changes pass `ignoreFreezes`); undefined if none within ten years.
 */
export function nextWindowStart(
  windows: readonly MaintenanceWindow[],
  freezes: readonly Freeze[],
  tz: string,
  after: Instant,
  options: { ignoreFreezes?: boolean } = {},
): WindowOccurrence | undefined {
  const clock = ZoneClock.of(tz);
  const from = toInstant(after, tz);
  let best: WindowOccurrence | undefined;
  for (const w of windows) {
    for (const o of occurrences(compileWindow(w), clock, from)) {
      if (best && o.start >= best.start) break;
      if (options.ignoreFreezes || !isFrozen(freezes, clock, o)) {
        best = o;
        break;
      }
    }
  }
  return best;
}

/** The window occurrence under way at `instant`, if any. */
export function windowAt(windows: readonly MaintenanceWindow[], tz: string, instant: Instant): WindowOccurrence | undefined {
  const clock = ZoneClock.of(tz);
  const t = toInstant(instant, tz);
  for (const w of windows) {
    const c = compileWindow(w);
    for (const o of occurrences(c, clock, t - c.length + 1)) {
      if (o.start > t) break;
      if (o.end > t) return o;
    }
  }
  return undefined;
}

/** True when a maintenance window is under way at `instant`. */
export function isInWindow(windows: readonly MaintenanceWindow[], tz: string, instant: Instant): boolean {
  return windowAt(windows, tz, instant) !== undefined;
}

