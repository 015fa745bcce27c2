import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { addBusinessDuration, businessTimeBetween, compileCalendar, isOpen, nextOpening } from '../../domain/calendar';
import type { BusinessCalendar } from '../../domain/calendar-spec';

const HOUR = 3_600_000;
const office: BusinessCalendar = { timezone: 'Europe/Paris', hours: { 'mon-fri': '08:00-18:00' }, holidays: 'FR' };
const officeNoHolidays: BusinessCalendar = { timezone: 'Europe/Paris', hours: { 'mon-fri': '08:00-18:00' } };
const always: BusinessCalendar = { timezone: 'Europe/Paris', hours: '24x7' };
const newYork: BusinessCalendar = { timezone: 'America/New_York', hours: { 'mon-fri': '09:00-17:00' }, holidays: 'US' };
const alwaysNewYork: BusinessCalendar = { timezone: 'America/New_York', hours: '24x7' };

/** The instant as wall-clock time with offset in the zone, for readable failures. */
function local(ms: number, zone = 'Europe/Paris'): string {
  return DateTime.fromMillis(ms, { zone }).toISO({ suppressMilliseconds: true, suppressSeconds: true })!;
}

describe('addBusinessDuration with business hours (PT…)', () => {
  it('when Friday 17:00 gets PT4H on 08-18 Mon-Fri, then it is due Monday 11:00', () => {
    expect(local(addBusinessDuration(officeNoHolidays, '2027-01-08T17:00', 'PT4H'))).toBe('2027-01-11T11:00+01:00');
  });

  it('when the Friday before Easter gets PT4H in FR, then Easter Monday and the DST weekend are skipped', () => {
    expect(local(addBusinessDuration(office, '2027-03-26T17:00', 'PT4H'))).toBe('2027-03-30T11:00+02:00');
  });

  it('when the hours run out exactly at the close, then the deadline is the close, not the next opening', () => {
    expect(local(addBusinessDuration(office, '2027-01-08T17:00', 'PT1H'))).toBe('2027-01-08T18:00+01:00');
  });

  it('when a ticket arrives on Christmas Eve afternoon, then the weekend and Christmas are skipped', () => {
    expect(local(addBusinessDuration(office, '2027-12-24T15:00', 'PT8H'))).toBe('2027-12-27T13:00+01:00');
  });

  it('when New Year falls inside the span, then 1 January is skipped', () => {
    expect(local(addBusinessDuration(office, '2027-12-31T16:00', 'PT4H'))).toBe('2028-01-03T10:00+01:00');
    expect(local(addBusinessDuration(office, '2026-12-31T17:00', 'PT2H'))).toBe('2027-01-04T09:00+01:00');
  });

  it('when 14 July falls inside the span, then it is skipped', () => {
    expect(local(addBusinessDuration(office, '2027-07-13T17:00', 'PT2H'))).toBe('2027-07-15T09:00+02:00');
  });

  it('when the start is an epoch number or carries an offset, then it means the same instant', () => {
    const start = DateTime.fromISO('2027-01-08T17:00', { zone: 'Europe/Paris' }).toMillis();
    expect(addBusinessDuration(office, start, 'PT4H')).toBe(addBusinessDuration(office, '2027-01-08T16:00:00Z', 'PT4H'));
  });

  it('when New York springs forward, then business hours follow the wall clock', () => {
    expect(local(addBusinessDuration(newYork, '2027-03-12T16:00', 'PT2H'), 'America/New_York')).toBe('2027-03-15T10:00-04:00');
  });

  it('when New York falls back, then business hours follow the wall clock', () => {
    expect(local(addBusinessDuration(newYork, '2027-11-05T16:00', 'PT2H'), 'America/New_York')).toBe('2027-11-08T10:00-05:00');
  });

  it('when the calendar is 24x7, then PT and P…D durations are elapsed time, DST included', () => {
    expect(local(addBusinessDuration(always, '2027-03-27T12:00', 'P1D'))).toBe('2027-03-28T13:00+02:00');
    expect(local(addBusinessDuration(always, '2027-10-30T12:00', 'PT24H'))).toBe('2027-10-31T11:00+01:00');
  });

  it('when the duration is in months, then it is refused', () => {
    expect(() => addBusinessDuration(office, '2027-01-08T17:00', 'P1M')).toThrow(RangeError);
  });
});

describe('addBusinessDuration with business days (P…BD)', () => {
  it('when P3BD starts on an open Thursday, then it is due at the same time three business days later', () => {
    expect(local(addBusinessDuration(office, '2027-07-08T10:00', 'P3BD'))).toBe('2027-07-13T10:00+02:00');
  });

  it('when P4BD spans 14 July, then the holiday does not count', () => {
    expect(local(addBusinessDuration(office, '2027-07-08T10:00', 'P4BD'))).toBe('2027-07-15T10:00+02:00');
  });

  it('when P1BD starts the Friday before Easter, then it is due Tuesday after Easter Monday, in summer time', () => {
    expect(local(addBusinessDuration(office, '2027-03-26T17:00', 'P1BD'))).toBe('2027-03-30T17:00+02:00');
  });

  it('when P1BD starts on 31 December, then 1 January and the weekend are skipped', () => {
    expect(local(addBusinessDuration(office, '2027-12-31T16:00', 'P1BD'))).toBe('2028-01-03T16:00+01:00');
  });

  it('when the start is outside hours, then it counts from the next opening and is due at the next close', () => {
    expect(local(addBusinessDuration(office, '2027-01-08T19:00', 'P1BD'))).toBe('2027-01-11T18:00+01:00');
    expect(local(addBusinessDuration(office, '2027-01-11T07:00', 'P1BD'))).toBe('2027-01-11T18:00+01:00');
    expect(local(addBusinessDuration(office, '2027-01-11T08:00', 'P2BD'))).toBe('2027-01-12T18:00+01:00');
  });

  it('when the target day closes earlier, then the deadline is clamped to its close', () => {
    const shortFriday: BusinessCalendar = { timezone: 'Europe/Paris', hours: { 'mon-thu': '08:00-18:00', fri: '08:00-12:00' } };
    expect(local(addBusinessDuration(shortFriday, '2027-01-07T15:00', 'P1BD'))).toBe('2027-01-08T12:00+01:00');
  });

  it('when the same time falls in a lunch break, then the deadline is the close before the break', () => {
    const lunch: BusinessCalendar = { timezone: 'Europe/Paris', hours: { 'mon-fri': '08:00-12:00', 'tue-tue': '14:00-18:00', mon: '13:00-18:00' } };
    expect(local(addBusinessDuration(lunch, '2027-01-11T13:30', 'P1BD'))).toBe('2027-01-12T12:00+01:00');
  });

  it('when business days and hours are mixed, then the hours are added after the days', () => {
    expect(local(addBusinessDuration(office, '2027-07-08T17:00', 'P1BDT2H'))).toBe('2027-07-12T09:00+02:00');
  });

  it('when P1BD runs on a 24x7 calendar over spring-forward, then it keeps the wall clock (23 real hours)', () => {
    const start = DateTime.fromISO('2027-03-27T12:00', { zone: 'Europe/Paris' }).toMillis();
    const due = addBusinessDuration(always, start, 'P1BD');
    expect(local(due)).toBe('2027-03-28T12:00+02:00');
    expect(due - start).toBe(23 * HOUR);
  });

  it('when P1BD runs on a 24x7 New York calendar over fall-back, then it keeps the wall clock (25 real hours)', () => {
    const start = DateTime.fromISO('2027-11-06T12:00', { zone: 'America/New_York' }).toMillis();
    expect(addBusinessDuration(alwaysNewYork, start, 'P1BD') - start).toBe(25 * HOUR);
  });

  it('when the same wall time is skipped by DST on the target day, then the deadline is the change', () => {
    expect(local(addBusinessDuration(always, '2027-03-27T02:30', 'P1BD'))).toBe('2027-03-28T03:00+02:00');
  });

  it('when the same wall time is repeated on the target day, then the deadline is its first occurrence', () => {
    expect(local(addBusinessDuration(always, '2027-10-30T02:30', 'P1BD'))).toBe('2027-10-31T02:30+02:00');
  });

  it('when P0BD is asked, then the deadline is the start itself', () => {
    expect(local(addBusinessDuration(office, '2027-01-09T10:00', 'P0BD'))).toBe('2027-01-09T10:00+01:00');
  });
});

describe('businessTimeBetween, isOpen and nextOpening', () => {
  it('when the span covers a whole FR year, then it counts 254 business days of 10 hours', () => {
    expect(businessTimeBetween(office, '2027-01-01T00:00', '2028-01-01T00:00')).toBe(2540 * HOUR);
  });

  it('when a 24x7 Paris day springs forward or falls back, then it holds 23 or 25 hours', () => {
    expect(businessTimeBetween(always, '2027-03-28T00:00', '2027-03-29T00:00')).toBe(23 * HOUR);
    expect(businessTimeBetween(always, '2027-10-31T00:00', '2027-11-01T00:00')).toBe(25 * HOUR);
  });

  it('when an opening span crosses the DST change, then it holds the real hours', () => {
    const sundayNight: BusinessCalendar = { timezone: 'Europe/Paris', hours: { sun: '01:00-05:00' } };
    expect(businessTimeBetween(sundayNight, '2027-03-27T00:00', '2027-03-29T00:00')).toBe(3 * HOUR);
    expect(businessTimeBetween(sundayNight, '2027-10-30T00:00', '2027-11-01T00:00')).toBe(5 * HOUR);
  });

  it('when `to` is not after `from`, then no business time passes', () => {
    expect(businessTimeBetween(office, '2027-01-11T12:00', '2027-01-11T10:00')).toBe(0);
  });

  it('when it is Easter Monday, then the office is closed and opens Tuesday 08:00', () => {
    expect(isOpen(office, '2027-03-29T10:00')).toBe(false);
    expect(local(nextOpening(office, '2027-03-29T10:00'))).toBe('2027-03-30T08:00+02:00');
  });

  it('when the office is open, then nextOpening is the instant itself', () => {
    expect(isOpen(office, '2027-03-30T08:00')).toBe(true);
    expect(isOpen(office, '2027-03-30T18:00')).toBe(false);
    expect(local(nextOpening(office, '2027-03-30T09:15'))).toBe('2027-03-30T09:15+02:00');
  });

  it('when a date is a closure, then it is not business time', () => {
    const closed: BusinessCalendar = { ...office, closures: ['2027-01-11'] };
    expect(local(nextOpening(closed, '2027-01-09T10:00'))).toBe('2027-01-12T08:00+01:00');
  });

  it('when a region is given, then its public holidays count too', () => {
    const everyDay = { timezone: 'Europe/Paris', hours: { 'mon-sun': '08:00-18:00' } } as const;
    const alsace = compileCalendar({ ...everyDay, holidays: 'FR-67' });
    const france = compileCalendar({ ...everyDay, holidays: 'FR' });
    expect(isOpen(alsace, '2027-03-26T10:00')).toBe(false); // Good Friday
    expect(isOpen(alsace, '2027-12-26T10:00')).toBe(false); // St Stephen's Day
    expect(isOpen(france, '2027-03-26T10:00')).toBe(true);
    expect(isOpen(france, '2027-12-26T10:00')).toBe(true);
  });

  it('when the calendar is malformed, then compiling it fails with a clear error', () => {
    expect(() => compileCalendar({ timezone: 'Mars/Olympus', hours: '24x7' })).toThrow(/time zone/);
    expect(() => compileCalendar({ timezone: 'Europe/Paris', hours: '24x7', holidays: 'XX' })).toThrow(/XX/);
    expect(() => compileCalendar({ timezone: 'Europe/Paris', hours: { mon: '18:00-08:00' } })).toThrow(/end after/);
  });

  it('when a calendar never opens, then adding business time fails instead of looping', () => {
    expect(() => addBusinessDuration({ timezone: 'UTC', hours: {} }, '2027-01-01T00:00Z', 'PT1H')).toThrow(/no open time/);
  });
});
