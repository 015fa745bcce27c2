// Property tests of the business calendar against a slow oracle that looks at every
// minute of a bounded span through luxon's wall-clock fields.
import Holidays from 'date-holidays';
import fc from 'fast-check';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { addBusinessDuration, businessTimeBetween, compileCalendar } from '../../domain/calendar';
import type { BusinessCalendar } from '../../domain/calendar-spec';

const MIN = 60_000;
const SPAN_DAYS = 14;
const SPAN = SPAN_DAYS * 24 * 60;
const ZONES = ['Europe/Paris', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe', 'UTC'];
const KEYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
/** DST changes (Paris, New York, Lord Howe's 30-minute ones), Easter, 14 July, year end. */
const ANCHORS = ['2027-03-28', '2027-10-31', '2027-03-14', '2027-11-07', '2027-04-04', '2027-10-03', '2027-03-29', '2027-07-14', '2027-12-31'];

/** A random calendar as plain data the oracle reads directly: spans per weekday, Monday first. */
interface Shape {
  zone: string;
  always: boolean;
  single: ([number, number] | null)[];
  range: { first: number; last: number; from: number; to: number } | null;
  holidays: 'FR' | 'US' | undefined;
  closures: number[];
}

const span = fc
  .tuple(fc.integer({ min: 0, max: 1440 }), fc.integer({ min: 0, max: 1440 }))
  .filter(([a, b]) => a !== b)
  .map(([a, b]): [number, number] => [Math.min(a, b), Math.max(a, b)]);
const shape: fc.Arbitrary<Shape> = fc.record({
  zone: fc.constantFrom(...ZONES),
  always: fc.integer({ min: 0, max: 7 }).map((x) => x === 0),
  single: fc.array(fc.option(span, { freq: 3 }), { minLength: 7, maxLength: 7 }),
  range: fc.option(fc.record({ first: fc.nat(6), last: fc.nat(6), hours: span })).map((r) => (r ? { first: r.first, last: r.last, from: r.hours[0], to: r.hours[1] } : null)),
  holidays: fc.constantFrom(undefined, undefined, 'FR' as const, 'US' as const),
  closures: fc.array(fc.nat(SPAN_DAYS + 2), { maxLength: 3 }),
});

const hhmm = (m: number) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;

function calendarOf(s: Shape, firstDay: DateTime): BusinessCalendar {
  const hours: Record<string, string> = {};
  s.single.forEach((x, i) => {
    if (x) hours[KEYS[i]!] = `${hhmm(x[0])}-${hhmm(x[1])}`;
  });
  if (s.range) hours[`${KEYS[s.range.first]}-${KEYS[s.range.last]}`] = `${hhmm(s.range.from)}-${hhmm(s.range.to)}`;
  return {
    timezone: s.zone,
    hours: s.always ? '24x7' : hours,
    ...(s.holidays ? { holidays: s.holidays } : {}),
    closures: s.closures.map((d) => firstDay.plus({ days: d }).toISODate()!),
  };
}

interface Oracle {
  lo: number;
  open: boolean[];
  /** prefix[i] = open minutes in [0, i). */
  prefix: number[];
  date: string[];
  minuteOfDay: number[];
}

/** Looks at each minute's wall clock: open iff its weekday has a span holding it and its date is not closed. */
function oracle(s: Shape, cal: BusinessCalendar, lo: number): Oracle {
  const publicHolidays = new Set<string>();
  if (s.holidays) {
    const rules = new Holidays(s.holidays);
    for (const year of [2026, 2027, 2028]) for (const h of rules.getHolidays(year)) if (h.type === 'public') publicHolidays.add(h.date.slice(0, 10));
  }
  const o: Oracle = { lo, open: [], prefix: [0], date: [], minuteOfDay: [] };
  for (let i = 0; i < SPAN; i++) {
    const dt = DateTime.fromMillis(lo + i * MIN, { zone: s.zone });
    const date = dt.toISODate()!;
    const weekday = dt.weekday - 1; // Monday first, as KEYS
    const m = dt.hour * 60 + dt.minute;
    const inRange = (r: NonNullable<Shape['range']>) =>
      (r.first <= r.last ? weekday >= r.first && weekday <= r.last : weekday >= r.first || weekday <= r.last) && m >= r.from && m < r.to;
    const single = s.single[weekday];
    const hoursOpen = s.always || (single != null && m >= single[0] && m < single[1]) || (s.range !== null && inRange(s.range));
    const open = hoursOpen && !publicHolidays.has(date) && !(cal.closures ?? []).includes(date);
    o.open.push(open);
    o.prefix.push(o.prefix[i]! + (open ? 1 : 0));
    o.date.push(date);
    o.minuteOfDay.push(m);
  }
  return o;
}

/** Earliest minute index j >= i with `amount` open minutes in [i, j); undefined past the span. */
function earliestWith(o: Oracle, i: number, amount: number): number | undefined {
  if (amount === 0) return i;
  for (let j = i + 1; j <= SPAN; j++) if (o.prefix[j]! - o.prefix[i]! === amount) return j;
  return undefined;
}

/** P{n}BD by its definition, minute by minute; undefined when the span is too short to tell. */
function businessDaysOracle(o: Oracle, i: number, n: number): number | undefined {
  let k = i;
  while (k < SPAN && !o.open[k]) k++;
  if (k >= SPAN) return undefined;
  const firstDate = o.date[k]!;
  const timeOfDay = o.minuteOfDay[k]!;
  let counted = 0;
  let lastDate = firstDate;
  while (counted < n) {
    k++;
    if (k >= SPAN) return undefined;
    if (o.open[k] && o.date[k] !== lastDate) {
      counted++;
      lastDate = o.date[k]!;
    }
  }
  let lastOpenEnd = k + 1;
  for (let m = k; ; m++) {
    if (m >= SPAN) return undefined;
    if (o.date[m] !== lastDate) return lastOpenEnd;
    if (!o.open[m]) continue;
    lastOpenEnd = m + 1;
    if (o.minuteOfDay[m]! >= timeOfDay) {
      // At an opening the same business time was reached at the previous close.
      return o.open[m - 1] ? m : earliestWith(o, i, o.prefix[m]! - o.prefix[i]!);
    }
  }
}

const start = fc.record({ anchor: fc.constantFrom(...ANCHORS, 'random'), randomDay: fc.nat(364), back: fc.nat(7 * 24 * 60) });
const queries = fc.array(fc.tuple(fc.nat(SPAN), fc.nat(SPAN), fc.nat(4)), { minLength: 12, maxLength: 12 });

function place(s: Shape, where: { anchor: string; randomDay: number; back: number }) {
  const day = where.anchor === 'random' ? DateTime.fromISO('2027-01-01', { zone: s.zone }).plus({ days: where.randomDay }) : DateTime.fromISO(where.anchor, { zone: s.zone });
  const lo = day.toMillis() - where.back * MIN;
  const cal = calendarOf(s, DateTime.fromMillis(lo, { zone: s.zone }).startOf('day'));
  return { lo, cal, compiled: compileCalendar(cal) };
}

function setUp(s: Shape, where: { anchor: string; randomDay: number; back: number }) {
  const placed = place(s, where);
  return { ...placed, o: oracle(s, placed.cal, placed.lo) };
}

describe('business calendar properties against a minute-by-minute oracle', () => {
  it('when open time is measured over any span, then businessTimeBetween equals the oracle count', () => {
    fc.assert(
      fc.property(shape, start, queries, (s, where, qs) => {
        const { lo, compiled, o } = setUp(s, where);
        for (const [a, b] of qs) {
          const [i, j] = a <= b ? [a, b] : [b, a];
          expect(businessTimeBetween(compiled, lo + i * MIN, lo + j * MIN)).toBe((o.prefix[j]! - o.prefix[i]!) * MIN);
        }
      }),
      { numRuns: 25 },
    );
  });

  it('when business minutes are added, then the result is the earliest instant holding exactly that open time', () => {
    fc.assert(
      fc.property(shape, start, queries, (s, where, qs) => {
        const { lo, compiled, o } = setUp(s, where);
        for (const [i, pick] of qs) {
          const available = o.prefix[SPAN]! - o.prefix[i]!;
          const minutes = available === 0 ? 0 : pick % (available + 1);
          const due = addBusinessDuration(compiled, lo + i * MIN, `PT${minutes}M`);
          expect(due).toBe(lo + earliestWith(o, i, minutes)! * MIN);
          expect(businessTimeBetween(compiled, lo + i * MIN, due)).toBe(minutes * MIN);
        }
      }),
      { numRuns: 25 },
    );
  });

  it('when business days are added, then the result matches their definition walked minute by minute', () => {
    fc.assert(
      fc.property(shape, start, queries, (s, where, qs) => {
        const { lo, compiled, o } = setUp(s, where);
        for (const [i, , n] of qs) {
          const expected = businessDaysOracle(o, i, n);
          if (expected === undefined || n === 0) continue;
          expect(addBusinessDuration(compiled, lo + i * MIN, `P${n}BD`)).toBe(lo + expected * MIN);
        }
      }),
      { numRuns: 25 },
    );
  });

  it('when the start or the duration grows, then the deadline never moves earlier', () => {
    const minutes = fc.nat(600);
    fc.assert(
      fc.property(shape, start, fc.nat(SPAN), fc.nat(SPAN), minutes, minutes, fc.nat(3), (s, where, a, b, d1, d2, bd) => {
        fc.pre(s.always || s.range !== null || s.single.some((x) => x !== null));
        const { lo, compiled } = place(s, where);
        const [i, j] = [Math.min(a, b) * MIN + lo, Math.max(a, b) * MIN + lo];
        const [x, y] = [Math.min(d1, d2), Math.max(d1, d2)];
        const add = (at: number, d: string) => addBusinessDuration(compiled, at, d);
        expect(add(i, `PT${x}M`)).toBeLessThanOrEqual(add(i, `PT${y}M`));
        expect(add(i, `PT${x}M`)).toBeLessThanOrEqual(add(j, `PT${x}M`));
        expect(add(i, `P${bd}BD`)).toBeLessThanOrEqual(add(j, `P${bd}BD`));
        expect(add(i, `P${bd}BD`)).toBeLessThanOrEqual(add(i, `P${bd + 1}BD`));
        expect(businessTimeBetween(compiled, i, j) + businessTimeBetween(compiled, j, j + x * MIN)).toBe(businessTimeBetween(compiled, i, j + x * MIN));
      }),
      { numRuns: 200 },
    );
  });
});
