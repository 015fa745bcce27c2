// Workflow time: the SDK replays `Date` deterministically inside the sandbox.
export function nowMs(): number {
  return new Date().getTime();
}

export function nowIso(): string {
  return new Date().toISOString();
}

export function isoOf(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}

/** At least 1 ms from now until `at`: a timer of 0 would not be a timer. */
export function untilMs(at: number): number {
  return Math.max(1, at - nowMs());
}
