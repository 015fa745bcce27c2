import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Duration, Percent, parseDuration, percentToBasisPoints } from '../../domain/duration';

const H = 3_600_000;

describe('parseDuration', () => {
  it.each([
    ['PT30M', { kind: 'elapsed', ms: 30 * 60_000 }],
    ['PT4H', { kind: 'elapsed', ms: 4 * H }],
    ['P2D', { kind: 'elapsed', ms: 48 * H }],
    ['P14D', { kind: 'elapsed', ms: 14 * 24 * H }],
    ['P1DT2H', { kind: 'elapsed', ms: 26 * H }],
    ['PT0S', { kind: 'elapsed', ms: 0 }],
    ['P2BD', { kind: 'business', days: 2, ms: 0 }],
    ['P1BDT4H', { kind: 'business', days: 1, ms: 4 * H }],
    ['P3M', { kind: 'calendar', years: 0, months: 3 }],
    ['P5Y', { kind: 'calendar', years: 5, months: 0 }],
    ['P1Y6M', { kind: 'calendar', years: 1, months: 6 }],
  ])('when given %s then it reads %o', (text, expected) => {
    expect(parseDuration(text)).toEqual(expected);
    expect(Duration.safeParse(text).success).toBe(true);
  });

  it.each(['', 'P', 'PT', 'P1DT', '30M', 'P-1D', 'P1.5D', 'P1Y2D', 'P1MT1H', 'P2W3BD', 'P2D3BD', 'pt30m', 'P1H', '2 days'])(
    'when given %j then it is refused with a message naming the value',
    (text) => {
      expect(() => parseDuration(text)).toThrow(RangeError);
      expect(() => parseDuration(text)).toThrow(`"${text}" is not a duration`);
      expect(Duration.safeParse(text).success).toBe(false);
    },
  );

  it('when elapsed parts are written out then the milliseconds are their sum', () => {
    fc.assert(
      fc.property(fc.nat(400), fc.nat(48), fc.nat(120), fc.nat(3600), (d, h, m, s) => {
        const text = `P${d}DT${h}H${m}M${s}S`;
        expect(parseDuration(text)).toEqual({ kind: 'elapsed', ms: ((d * 24 + h) * 60 + m) * 60_000 + s * 1000 });
      }),
    );
  });

  it('when any string is parsed then it either yields a duration or throws a RangeError', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        try {
          parseDuration(text);
          expect(Duration.safeParse(text).success).toBe(true);
        } catch (e) {
          expect(e).toBeInstanceOf(RangeError);
          expect(Duration.safeParse(text).success).toBe(false);
        }
      }),
    );
  });
});

describe('Percent', () => {
  it.each([
    ['20%', 2000],
    ['99.5%', 9950],
    ['0.01%', 1],
    ['100%', 10_000],
    ['0%', 0],
  ])('when given %s then it is %i basis points', (text, bp) => {
    expect(Percent.safeParse(text).success).toBe(true);
    expect(percentToBasisPoints(text)).toBe(bp);
  });

  it.each(['20', '20 %', '-5%', '1.234%', '101%', 'abc%', '%'])('when given %j then it is refused', (text) => {
    expect(Percent.safeParse(text).success).toBe(false);
  });

  it('when a percentage has two decimals then basis points are exact integers', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000 }), (bp) => {
        const text = `${Math.floor(bp / 100)}.${String(bp % 100).padStart(2, '0')}%`;
        expect(percentToBasisPoints(text)).toBe(bp);
      }),
    );
  });
});
