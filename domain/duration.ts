// Durations and percentages as contracts write them: strings kept verbatim in the
// document, parsed into numbers only where a rule computes with them.
import { z } from 'zod';

export type ParsedDuration =
  | { kind: 'elapsed'; ms: number }
  /** `days` business days of the contract's calendar, plus `ms` of business time. */
  | { kind: 'business'; days: number; ms: number }
  | { kind: 'calendar'; years: number; months: number };

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const shape =
  /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)(BD|D))?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/;

type Outcome = { ok: true; value: ParsedDuration } | { ok: false; message: string };

function read(s: string): Outcome {
  const m = shape.exec(s);
  const fail = (why: string): Outcome => ({
    ok: false,
    message: `"${s}" is not a duration: ${why} (examples: PT30M, PT4H, P2D, P2BD, P3M, P5Y)`,
  });
  if (!m) return fail('expected P[nY][nM][nW][nD|nBD][T[nH][nM][nS]]');
  const [, y, mo, w, d, dayUnit, h, mi, sec] = m;
  const hasTime = h !== undefined || mi !== undefined || sec !== undefined;
  if (s.endsWith('T')) return fail('a T must be followed by hours, minutes or seconds');
  if (y === undefined && mo === undefined && w === undefined && d === undefined && !hasTime) return fail('no part given');
  const num = (x: string | undefined): number => (x === undefined ? 0 : Number(x));
  const time = num(h) * HOUR + num(mi) * MINUTE + num(sec) * SECOND;
  if (y !== undefined || mo !== undefined) {
    // Months and years have no fixed length: they cannot be added to hours or days.
    if (w !== undefined || d !== undefined || hasTime) return fail('years and months cannot be mixed with weeks, days or times');
    return { ok: true, value: { kind: 'calendar', years: num(y), months: num(mo) } };
  }
  if (dayUnit === 'BD') {
    if (w !== undefined) return fail('business days cannot be mixed with weeks');
    return { ok: true, value: { kind: 'business', days: num(d), ms: time } };
  }
  return { ok: true, value: { kind: 'elapsed', ms: num(w) * 7 * DAY + num(d) * DAY + time } };
}

/** Parses a contract duration; throws a RangeError naming the bad value otherwise. */
export function parseDuration(s: string): ParsedDuration {
  const outcome = read(s);
  if (!outcome.ok) throw new RangeError(outcome.message);
  return outcome.value;
}

/** ISO-8601-like duration: `PT30M`, `P14D`, `P3M`, `P5Y`, business days `P2BD`. */
export const Duration = z.string().superRefine((s, ctx) => {
  const outcome = read(s);
  if (!outcome.ok) ctx.addIssue({ code: 'custom', message: outcome.message });
});
export type Duration = z.infer<typeof Duration>;

const percentShape = /^(\d{1,3})(?:\.(\d{1,2}))?%$/;

/** A percentage between 0% and 100% with at most two decimals, e.g. `20%`, `99.5%`. */
export const Percent = z.string().superRefine((s, ctx) => {
  if (!percentShape.test(s)) ctx.addIssue({ code: 'custom', message: 'expected a percentage such as 20% or 99.5% (at most two decimals)' });
  else if (percentToBasisPoints(s) > 10_000) ctx.addIssue({ code: 'custom', message: 'a percentage cannot exceed 100%' });
});
export type Percent = z.infer<typeof Percent>;

/** `"20%"` → 2000, `"99.5%"` → 9950: integers, so money math stays exact. */
export function percentToBasisPoints(percent: string): number {
  const m = percentShape.exec(percent);
  if (!m) throw new RangeError(`"${percent}" is not a percentage such as 20% or 99.5%`);
  const [, whole = '0', fraction = ''] = m;
  return Number(whole) * 100 + Number(fraction.padEnd(2, '0'));
}
