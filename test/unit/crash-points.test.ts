import { describe, expect, it } from 'vitest';
import { crashPointsFor, parseCrashPoints } from '../../worker/crash-points';

describe('crash points', () => {
  it('when the spec names countdowns and probabilities, then each item is parsed', () => {
    expect(parseCrashPoints('record.committed@3, task.claimed:0.25')).toEqual([
      { point: 'record.committed', at: 3 },
      { point: 'task.claimed', probability: 0.25 },
    ]);
    expect(parseCrashPoints('')).toEqual([]);
  });

  it('when an item is malformed, then parsing fails naming it', () => {
    expect(() => parseCrashPoints('record.committed@0')).toThrow(/record\.committed@0/);
    expect(() => parseCrashPoints('task.claimed:1.5')).toThrow(/task\.claimed:1\.5/);
    expect(() => parseCrashPoints('task.claimed')).toThrow(/task\.claimed/);
  });

  it('when a countdown is given, then the process dies exactly at that time and only for that point', () => {
    const deaths: string[] = [];
    const point = crashPointsFor(parseCrashPoints('record.committed@2'), (name, n) => deaths.push(`${name}#${n}`));
    point('task.claimed');
    point('record.committed');
    expect(deaths).toEqual([]);
    point('record.committed');
    point('record.committed');
    expect(deaths).toEqual(['record.committed#2']);
  });

  it('when probability 1 or 0 is given, then it always or never dies', () => {
    const deaths: number[] = [];
    const always = crashPointsFor(parseCrashPoints('a.b:1'), (_n, count) => deaths.push(count));
    const never = crashPointsFor(parseCrashPoints('a.b:0'), () => deaths.push(-1));
    always('a.b');
    always('a.b');
    never('a.b');
    expect(deaths).toEqual([1, 2]);
  });
});
