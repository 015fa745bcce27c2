// Wall-clock time of one IANA zone, for business calendars and maintenance windows.
// Offsets come from luxon; this file only turns them into an exact map between
// instants and local dates, DST gaps and repeated hours included.
import { DateTime, IANAZone } from 'luxon';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

/** An instant as epoch ms or ISO string. */
export type Instant = string | number;

/** Epoch ms of an instant; an ISO string without offset is wall-clock time in `zone`. */
export function toInstant(instant: Instant, zone: string): number {
  if (typeof instant === 'number') {
    if (!Number.isFinite(instant)) throw new RangeError(`${instant} is not an instant`);
    return instant;
  }
  // A date is required: luxon would fill a missing one from the clock.
  const parsed = /^\d{4}-\d{2}-\d{2}/.test(instant) ? DateTime.fromISO(instant, { zone }) : undefined;
  if (!parsed?.isValid) throw new RangeError(`"${instant}" is not an ISO instant such as 2027-03-26T17:00:00+01:00`);
  return parsed.toMillis();
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * ((month + 9) % 12) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

export interface CivilDate {
  year: number;
  month: number;
  day: number;
}

export function civilFromDays(days: number): CivilDate {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day: doy - Math.floor((153 * mp + 2) / 5) + 1 };
}

/** 0 = Sunday … 6 = Saturday, as in Temporal calendar specs (1970-01-01 was a Thursday). */
export function weekdayOfDay(days: number): number {
  return (((days + 4) % 7) + 7) % 7;
}

/** Day number of an ISO date `YYYY-MM-DD`. */
export function dayOfIsoDate(iso: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso);
  if (!m) throw new RangeError(`"${iso}" is not a date YYYY-MM-DD`);
  return daysFromCivil(Number(m[1]), Number(m[2]), Number(m[3]));
}

/**
 * The zone's offset over the instants that can show one local date (from 14 h before
 * its UTC midnight to 12 h after the next): `before` until `change`, `after` from it.
 * Assumes at most one offset change in any 62 hours, true of every zone in use.
 */
interface OffsetPieces {
  before: number;
  after: number;
  change: number;
}

const EARLIEST = 14 * HOUR_MS; // UTC+14 is the easternmost offset
const LATEST = 12 * HOUR_MS; // UTC-12 the westernmost
const CACHE_LIMIT = 50_000;

const clocks = new Map<string, ZoneClock>();

export class ZoneClock {
  private readonly pieces = new Map<number, OffsetPieces>();

  private constructor(
    readonly name: string,
    private readonly zone: IANAZone,
  ) {}

  static of(name: string): ZoneClock {
    let clock = clocks.get(name);
    if (!clock) {
      const zone = IANAZone.create(name);
      if (!zone.isValid) throw new RangeError(`"${name}" is not an IANA time zone such as Europe/Paris`);
      clock = new ZoneClock(name, zone);
      clocks.set(name, clock);
    }
    return clock;
  }

  /** Offset pieces valid for every instant whose local date is `day` (memoised). */
  private piecesOf(day: number): OffsetPieces {
    let p = this.pieces.get(day);
    if (p) return p;
    const lo = day * DAY_MS - EARLIEST;
    const hi = (day + 1) * DAY_MS + LATEST;
    const before = this.zone.offset(lo) * MINUTE_MS;
    const after = this.zone.offset(hi) * MINUTE_MS;
    let change = Number.POSITIVE_INFINITY;
    if (before !== after) {
      // Binary search of the first instant with the new offset.
      let a = lo;
      let b = hi;
      while (b - a > 1) {
        const mid = Math.floor((a + b) / 2);
        if (this.zone.offset(mid) * MINUTE_MS === before) a = mid;
        else b = mid;
      }
      change = b;
    }
    p = { before, after, change };
    if (this.pieces.size >= CACHE_LIMIT) this.pieces.clear();
    this.pieces.set(day, p);
    return p;
  }

  /** Offset (ms) in force at an instant. */
  offsetAt(instant: number): number {
    // The pieces of UTC day n cover every instant of that UTC day.
    const p = this.piecesOf(Math.floor(instant / DAY_MS));
    return instant < p.change ? p.before : p.after;
  }

  /** Local wall-clock time of an instant, as ms since 1970-01-01T00:00 local. */
  wallOf(instant: number): number {
    return instant + this.offsetAt(instant);
  }

  /** Local date (day number) of an instant. */
  dayOf(instant: number): number {
    return Math.floor(this.wallOf(instant) / DAY_MS);
  }

  /**
   * Appends the instants whose wall-clock time lies in [fromMs, toMs) of local date
   * `day` to `out` as [start, end] pairs (see sortedUnion): 3 h for 01:00-05:00 on a spring-forward night, 5 h
   * (or two pieces for a span that ends inside the repeated hour) on a fall-back night.
   */
  instantsOfWall(day: number, fromMs: number, toMs: number, out: number[]): void {
    const { before, after, change } = this.piecesOf(day);
    const w1 = day * DAY_MS + fromMs;
    const w2 = day * DAY_MS + toMs;
    const s1 = w1 - before;
    const e1 = Math.min(w2 - before, change);
    const s2 = Math.max(w1 - after, change);
    const e2 = w2 - after;
    if (s1 < e1) out.push(s1, e1);
    if (s2 < e2) out.push(s2, e2);
  }

  /**
   * Earliest instant within [start, end) whose wall-clock time is at least wall time `ms`
   * of local date `day`; undefined if none. A time skipped by DST maps to the change.
   */
  firstAtOrAfterWall(day: number, ms: number, start: number, end: number): number | undefined {
    const { before, after, change } = this.piecesOf(day);
    const wall = day * DAY_MS + ms;
    const c1 = Math.max(start, wall - before);
    if (c1 < Math.min(end, change)) return c1;
    const c2 = Math.max(start, change, wall - after);
    return c2 < end ? c2 : undefined;
  }
}

/** Sorts [start, end, …] pairs and merges the ones that touch or overlap. */
export function sortedUnion(pairs: number[]): number[] {
  const n = pairs.length / 2;
  if (n <= 1) return pairs;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => pairs[2 * a]! - pairs[2 * b]!);
  const out: number[] = [];
  for (const i of order) {
    const s = pairs[2 * i]!;
    const e = pairs[2 * i + 1]!;
    if (out.length > 0 && s <= out[out.length - 1]!) out[out.length - 1] = Math.max(out[out.length - 1]!, e);
    else out.push(s, e);
  }
  return out;
}
