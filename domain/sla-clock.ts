// An SLA clock (docs/ARCHITECTURE.md "SLA clocks"): counts business time in the contract's calendar
// only while the provider holds the work. It stops while the work waits on the client or
// on a vendor the client contracted; the provider's own subcontractors do not stop it.
// The deadline is kept as an instant and recomputed on resume: resume + remaining time.
// Pure: instants come in as parameters.
import type { BusinessCalendar } from './calendar-spec';
import { addBusinessDuration, businessTimeBetween } from './calendar';
import { parseDuration } from './duration';

export type HolderSide = 'provider' | 'client';

/** Whose side a party is on for the provider's clocks. */
export function sideOf(partyId: string, parties: readonly { id: string; kind: string; contractedBy?: string }[]): HolderSide {
  const party = parties.find((p) => p.id === partyId);
  if (!party) return 'provider';
  if (party.kind === 'client') return 'client';
  if (party.kind === 'third-party') {
    const holder = parties.find((p) => p.id === party.contractedBy);
    return holder?.kind === 'client' ? 'client' : 'provider';
  }
  return 'provider';
}

export interface SlaClockState {
  name: string;
  clause: string;
  /** The target as written in the contract, e.g. PT4H or P3BD. */
  target: string;
  targetMs: number;
  calendar: BusinessCalendar;
  startedAt: number;
  /** Business time counted up to `since` (or up to the pause). */
  accumulatedMs: number;
  /** When the clock last (re)started counting; undefined while paused. */
  runningSince?: number;
  pausedSince?: number;
  pauseReason?: string;
  /** Instant the target is reached if the clock keeps running; undefined while paused. */
  deadlineAt?: number;
  breachedAt?: number;
  stoppedAt?: number;
}

/** Business time of a target: a BD target is measured from the start in its calendar. */
export function targetMs(calendar: BusinessCalendar, startedAt: number, target: string): number {
  const d = parseDuration(target);
  if (d.kind === 'business') return businessTimeBetween(calendar, startedAt, addBusinessDuration(calendar, startedAt, target));
  if (d.kind === 'elapsed') return d.ms;
  throw new RangeError(`${target}: an SLA target cannot be in months or years`);
}

export function startClock(input: { name: string; clause: string; target: string; calendar: BusinessCalendar; at: number }): SlaClockState {
  const ms = targetMs(input.calendar, input.at, input.target);
  return {
    name: input.name,
    clause: input.clause,
    target: input.target,
    targetMs: ms,
    calendar: input.calendar,
    startedAt: input.at,
    accumulatedMs: 0,
    runningSince: input.at,
    deadlineAt: addBusinessMs(input.calendar, input.at, ms),
  };
}

export function pauseClock(clock: SlaClockState, at: number, reason: string): SlaClockState {
  if (clock.runningSince === undefined || clock.stoppedAt !== undefined) return clock;
  return {
    ...clock,
    accumulatedMs: clock.accumulatedMs + businessTimeBetween(clock.calendar, clock.runningSince, at),
    runningSince: undefined,
    pausedSince: at,
    pauseReason: reason,
    deadlineAt: undefined,
  };
}

export function resumeClock(clock: SlaClockState, at: number): SlaClockState {
  if (clock.runningSince !== undefined || clock.stoppedAt !== undefined) return clock;
  const remaining = Math.max(0, clock.targetMs - clock.accumulatedMs);
  return { ...clock, runningSince: at, pausedSince: undefined, pauseReason: undefined, deadlineAt: addBusinessMs(clock.calendar, at, remaining) };
}

export function stopClock(clock: SlaClockState, at: number): SlaClockState {
  if (clock.stoppedAt !== undefined) return clock;
  const paused = pauseClock(clock, at, 'stopped');
  return { ...paused, pausedSince: undefined, pauseReason: undefined, stoppedAt: at };
}

/** Business time counted at `at` (what the API shows as elapsed). */
export function elapsedBusinessMs(clock: SlaClockState, at: number): number {
  if (clock.runningSince === undefined) return clock.accumulatedMs;
  return clock.accumulatedMs + businessTimeBetween(clock.calendar, clock.runningSince, Math.max(at, clock.runningSince));
}

export function isBreached(clock: SlaClockState, at: number): boolean {
  return elapsedBusinessMs(clock, at) >= clock.targetMs;
}

function addBusinessMs(calendar: BusinessCalendar, at: number, ms: number): number {
  if (ms <= 0) return at;
  return addBusinessDuration(calendar, at, `PT${Math.ceil(ms / 1000)}S`);
}
