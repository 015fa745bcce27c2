// Deliberate crash points for the chaos test (test/chaos/): a named point kills its own
// process with SIGKILL when MANDATE_CRASH_POINTS names it, and costs nothing otherwise.
//
//   MANDATE_CRASH_POINTS="record.committed@3"        die the 3rd time the point is reached
//   MANDATE_CRASH_POINTS="task.claimed:0.25"         die each time with probability 0.25
//   MANDATE_CRASH_POINTS="record.committed@2,task.claimed:0.5"   several points
//
// The environment is read once, when this module loads; a malformed value stops the process.
import { writeSync } from 'node:fs';

export type CrashRule = { point: string; at: number } | { point: string; probability: number };

/** Parses the MANDATE_CRASH_POINTS syntax; throws naming the faulty item. */
export function parseCrashPoints(spec: string): CrashRule[] {
  return spec
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '')
    .map((item) => {
      const countdown = /^([a-z][a-z0-9.-]*)@([1-9][0-9]*)$/.exec(item);
      if (countdown) return { point: countdown[1]!, at: Number(countdown[2]) };
      const chance = /^([a-z][a-z0-9.-]*):((?:0|1)(?:\.[0-9]+)?)$/.exec(item);
      if (chance && Number(chance[2]) <= 1) return { point: chance[1]!, probability: Number(chance[2]) };
      throw new Error(`MANDATE_CRASH_POINTS: "${item}" is neither <point>@<n> (n ≥ 1) nor <point>:<probability 0..1>`);
    });
}

/** A crash-point function for these rules: no-op for points without a rule. */
export function crashPointsFor(rules: readonly CrashRule[], die: (point: string, reached: number) => void): (name: string) => void {
  if (rules.length === 0) return () => undefined;
  const reached = new Map<string, number>();
  return (name) => {
    const rule = rules.find((r) => r.point === name);
    if (!rule) return;
    const count = (reached.get(name) ?? 0) + 1;
    reached.set(name, count);
    if ('at' in rule ? count === rule.at : Math.random() < rule.probability) die(name, count);
  };
}

function sigkillSelf(point: string, reached: number): void {
  // Synchronous: the line must be out before the signal (the harness reads it to attribute the kill).
  writeSync(2, `[crash-point] ${point} reached (time ${reached}): SIGKILL pid ${process.pid}\n`);
  process.kill(process.pid, 'SIGKILL');
}

/** Kills this process at the named point when MANDATE_CRASH_POINTS asks for it. */
export const crashPoint: (name: string) => void = crashPointsFor(parseCrashPoints(process.env.MANDATE_CRASH_POINTS ?? ''), sigkillSelf);
