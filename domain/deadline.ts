// When a step's deadline falls, from a contract duration and a start instant. Business
// durations count in a contract calendar (domain/calendar.ts); computed once when the
// step starts and kept as an instant.
import type { BusinessCalendar } from './calendar-spec';
import { addBusinessDuration } from './calendar';
import { parseDuration } from './duration';

export interface CalendarView {
  calendars: Readonly<Record<string, BusinessCalendar>>;
  parties: readonly { kind: string; timezone: string }[];
}

/**
 * The calendar business days count in when a row names none: the contract's first
 * calendar that has business hours, else every day in the provider's time zone.
 */
export function defaultCalendar(contract: CalendarView): BusinessCalendar {
  const office = Object.values(contract.calendars).find((c) => c.hours !== '24x7');
  if (office) return office;
  const first = Object.values(contract.calendars)[0];
  if (first) return first;
  const provider = contract.parties.find((p) => p.kind === 'provider');
  return { timezone: provider?.timezone ?? 'UTC', hours: '24x7' } as BusinessCalendar;
}

export function calendarNamed(contract: CalendarView, name: string | undefined): BusinessCalendar {
  if (name === undefined) return defaultCalendar(contract);
  const cal = contract.calendars[name];
  if (!cal) throw new RangeError(`calendar "${name}" is not defined by the contract`);
  return cal;
}

/**
 * The instant a duration ends. With a named calendar every duration counts open time;
 * without one, `PT…`/`P…D` are elapsed time and `P…BD` count in the default calendar.
 */
export function deadlineAt(contract: CalendarView, startMs: number, duration: string, calendar?: string): number {
  if (calendar !== undefined) return addBusinessDuration(calendarNamed(contract, calendar), startMs, duration);
  const d = parseDuration(duration);
  switch (d.kind) {
    case 'elapsed':
      return startMs + d.ms;
    case 'business':
      return addBusinessDuration(defaultCalendar(contract), startMs, duration);
    case 'calendar':
      throw new RangeError(`${duration}: months and years cannot be a deadline`);
  }
}

/** Elapsed milliseconds for durations that are not tied to a calendar (pickup, heartbeats). */
export function elapsedMs(duration: string): number {
  const d = parseDuration(duration);
  if (d.kind !== 'elapsed') throw new RangeError(`${duration}: expected an elapsed duration such as PT5M`);
  return d.ms;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** A duration as plain elapsed milliseconds (a business day counted as 24 hours): for timeouts, not contract deadlines. */
export function deadlineMs(duration: string): number {
  const d = parseDuration(duration);
  if (d.kind === 'elapsed') return d.ms;
  if (d.kind === 'business') return d.days * DAY_MS + d.ms;
  throw new RangeError(`${duration}: months and years cannot be a timeout`);
}
