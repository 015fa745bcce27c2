import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { elapsedBusinessMs, isBreached, pauseClock, resumeClock, sideOf, startClock, stopClock } from '../../domain/sla-clock';
import { deadlineAt, defaultCalendar } from '../../domain/deadline';
import { monthlyAttainment } from '../../domain/sla-attainment';
import type { BusinessCalendar } from '../../domain/calendar-spec';

const office: BusinessCalendar = { timezone: 'Europe/Paris', hours: { 'mon-fri': '08:00-18:00' }, holidays: 'FR' } as BusinessCalendar;
const always: BusinessCalendar = { timezone: 'Europe/Paris', hours: '24x7' } as BusinessCalendar;
const at = (iso: string) => Date.parse(iso);
const HOUR = 3_600_000;

const parties = [
  { id: 'nuvola', kind: 'provider' },
  { id: 'martin', kind: 'client' },
  { id: 'dc-lyon', kind: 'third-party', contractedBy: 'nuvola' },
  { id: 'pc-logistique', kind: 'third-party', contractedBy: 'martin' },
];

describe('sideOf', () => {
  it('when a vendor is contracted by the client, then it is on the client side; a subcontractor is on the provider side', () => {
    expect(['nuvola', 'martin', 'dc-lyon', 'pc-logistique'].map((p) => sideOf(p, parties))).toEqual(['provider', 'client', 'provider', 'client']);
  });
});

describe('SLA clock', () => {
  it('when a P2 clock (PT8H, office hours) starts Friday 16:00 and pauses Friday 17:00 to Monday 10:00, then it ends Monday 17:00', () => {
    // Friday 2027-03-05 16:00 Paris = 15:00Z. 1 h counted Friday, 7 h left from Monday 10:00.
    let clock = startClock({ name: 'resolution', clause: 'slas/support/P2', target: 'PT8H', calendar: office, at: at('2027-03-05T15:00:00Z') });
    clock = pauseClock(clock, at('2027-03-05T16:00:00Z'), 'waiting on martin');
    expect(clock.accumulatedMs).toBe(HOUR);
    expect(clock.deadlineAt).toBeUndefined();
    clock = resumeClock(clock, at('2027-03-08T09:00:00Z'));
    expect(new Date(clock.deadlineAt!).toISOString()).toBe('2027-03-08T16:00:00.000Z');
    expect(isBreached(clock, at('2027-03-08T15:59:00Z'))).toBe(false);
    expect(isBreached(clock, at('2027-03-08T16:00:00Z'))).toBe(true);
  });

  it('when stopped, then elapsed business time no longer grows', () => {
    let clock = startClock({ name: 'r', clause: 'c', target: 'PT4H', calendar: always, at: 0 });
    clock = stopClock(clock, HOUR);
    expect(elapsedBusinessMs(clock, 10 * HOUR)).toBe(HOUR);
  });

  it('for any pauses on a 24x7 calendar, elapsed time is the sum of running spans and the deadline is resume + remaining', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 10 * 60_000 }), { minLength: 2, maxLength: 10 }), (spans) => {
        let t = at('2027-06-01T00:00:00Z');
        let clock = startClock({ name: 'r', clause: 'c', target: 'PT10H', calendar: always, at: t });
        let running = 0;
        spans.forEach((span, i) => {
          t += span;
          if (i % 2 === 0) {
            running += span;
            clock = pauseClock(clock, t, 'client');
          } else {
            clock = resumeClock(clock, t);
            expect(clock.deadlineAt).toBe(t + Math.ceil((10 * HOUR - running) / 1000) * 1000);
          }
        });
        expect(elapsedBusinessMs(clock, t)).toBe(running);
      }),
    );
  });
});

describe('deadlines', () => {
  const contract = { calendars: { office, always }, parties: [{ kind: 'provider', timezone: 'Europe/Paris' }] };

  it('when a row names no calendar, then PT durations are elapsed and BD count in the first office calendar', () => {
    const friday17 = at('2027-03-05T16:00:00Z');
    expect(deadlineAt(contract, friday17, 'PT4H')).toBe(friday17 + 4 * HOUR);
    expect(new Date(deadlineAt(contract, friday17, 'P1BD')).toISOString()).toBe('2027-03-08T16:00:00.000Z');
    expect(defaultCalendar(contract)).toBe(office);
  });

  it('when a row names its calendar, then PT durations count its open time', () => {
    expect(new Date(deadlineAt(contract, at('2027-03-05T16:00:00Z'), 'PT4H', 'office')).toISOString()).toBe('2027-03-08T10:00:00.000Z');
    expect(() => deadlineAt(contract, 0, 'PT1H', 'nope')).toThrow(/not defined/);
  });
});

describe('monthly attainment', () => {
  it('when 3 of 4 P2 clocks of March met their target, then attainment is 75 % and only breaches after stabilisation are creditable', () => {
    const r = (breached: boolean, penaltiesApply = true, startedAt = '2027-03-10T10:00:00Z') => ({ priority: 'P2', breached, penaltiesApply, startedAt });
    const result = monthlyAttainment([r(false), r(false), r(false), r(true, false), r(true, true, '2027-04-01T10:00:00Z')], '2027-03');
    expect(result).toEqual([{ priority: 'P2', total: 4, met: 3, attainmentBp: 7500, creditableBreaches: 0 }]);
  });
});
