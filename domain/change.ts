// Change management for the patch cycle (docs/ARCHITECTURE.md "Change policy"): how a change is typed
// by the contract's policy, whether its approval still holds, which maintenance window it
// runs in and whether a batch (and its rollback) still fits there. Pure: instants are ms.
import { z } from 'zod';
import type { Freeze, MaintenanceWindow } from './calendar-spec';
import { nextWindowStart, windowAt, type WindowOccurrence } from './calendar-windows';
import { ZoneClock, civilFromDays, toInstant } from './calendar-zone';
import { deadlineAt, elapsedMs, type CalendarView } from './deadline';
import { Duration, parseDuration } from './duration';
import type { ChangePolicy } from './terms';

export type ChangeType = 'standard' | 'normal' | 'emergency';

/** Who signs the change off: nobody (pre-approved), A of `change.patch`, or the emergency approver. */
export type ChangeApprover =
  | { kind: 'pre-approved'; standardChange: string }
  | { kind: 'accountable' }
  | { kind: 'emergency'; party: string; team?: string };

export interface ChangeTyping {
  type: ChangeType;
  approver: ChangeApprover;
  /** The policy clause the typing rests on, cited in the journal. */
  clause: string;
  mayRunInFreeze: boolean;
  /** How long an approval holds (none for a pre-approved standard change). */
  expiresAfter?: string;
}

export type TypingOutcome = { ok: true; typing: ChangeTyping } | { ok: false; reason: string };

/**
 * Types a change request by the contract's change policy. A standard change must name one
 * of the policy's pre-approved changes; anything else is asked for as a normal change.
 * Emergency approvals expire like normal ones (the policy gives no other expiry).
 */
export function typeChange(policy: ChangePolicy, request: { changeType: ChangeType; standardChange?: string }): TypingOutcome {
  switch (request.changeType) {
    case 'standard': {
      const name = request.standardChange;
      if (name === undefined) return { ok: false, reason: 'a standard change must name its pre-approved change (standardChange)' };
      const i = policy.standard.indexOf(name);
      if (i < 0) {
        const listed = policy.standard.length > 0 ? policy.standard.join(', ') : 'none';
        return { ok: false, reason: `"${name}" is not a pre-approved standard change of the contract (standard: ${listed}): request it as a normal change` };
      }
      return { ok: true, typing: { type: 'standard', approver: { kind: 'pre-approved', standardChange: name }, clause: `changePolicy/standard/${i}`, mayRunInFreeze: false } };
    }
    case 'normal':
      return { ok: true, typing: { type: 'normal', approver: { kind: 'accountable' }, clause: 'changePolicy/normal', mayRunInFreeze: false, expiresAfter: policy.normal.expiresAfter } };
    case 'emergency': {
      const { party, team } = policy.emergency.approver;
      return {
        ok: true,
        typing: {
          type: 'emergency',
          approver: { kind: 'emergency', party, ...(team !== undefined && { team }) },
          clause: 'changePolicy/emergency',
          mayRunInFreeze: policy.emergency.mayRunInFreeze,
          expiresAfter: policy.normal.expiresAfter,
        },
      };
    }
  }
}

/** What an approval covers: these assets, until `expiresAt` (none: a standard change's pre-approval). */
export interface ChangeApproval {
  approvedAt: number;
  expiresAt?: number;
  assets: readonly string[];
}

/** When an approval given at `approvedAt` expires: elapsed time, or business days in the contract's calendar. */
export function approvalExpiresAt(contract: CalendarView, approvedAt: number, expiresAfter: string): number {
  return deadlineAt(contract, approvedAt, expiresAfter);
}

export type ApprovalCheck = { ok: true } | { ok: false; reason: 'expired' | 'out-of-scope'; message: string };

/** Whether the approval still allows acting on `assets` at `at`: within its scope and before its expiry. */
export function checkApproval(approval: ChangeApproval, at: number, assets: readonly string[]): ApprovalCheck {
  if (approval.expiresAt !== undefined && at >= approval.expiresAt) {
    return { ok: false, reason: 'expired', message: 'the approval expired before the change could run' };
  }
  const outside = assets.filter((a) => !approval.assets.includes(a));
  if (outside.length > 0) return { ok: false, reason: 'out-of-scope', message: `the approval does not cover ${outside.join(', ')}` };
  return { ok: true };
}

/** Requested assets that are not in the contract's perimeter. */
export function assetsOutOfScope(scope: readonly { id: string }[], assets: readonly string[]): string[] {
  return assets.filter((a) => !scope.some((s) => s.id === a));
}

export function batchesOf<T>(items: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`batch size must be a positive integer, got ${size}`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Expected durations of one server's actions, as elapsed ISO durations. */
export interface ActionDurations {
  snapshot: string;
  patch: string;
  healthCheck: string;
  restore: string;
}

/** The request's durations, each missing one replaced by its default. */
export function actionDurations(given: Partial<ActionDurations> = {}): ActionDurations {
  return { ...DEFAULT_ACTION_DURATIONS, ...Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) };
}

/**
 * Conservative defaults when the request gives none: a workflow cannot read the agents'
 * or the engine's action configuration, so the requester states what it expects.
 */
export const DEFAULT_ACTION_DURATIONS: ActionDurations = { snapshot: 'PT15M', patch: 'PT45M', healthCheck: 'PT10M', restore: 'PT30M' };

/**
 * Time a batch needs in the window: snapshot, patch and health check of each server, plus
 * the rollback it may need. Servers of a batch run one after the other (an agent may take
 * one job at a time), so the sum is what the batch can take.
 */
export function batchNeedMs(durations: ActionDurations, servers: number): number {
  const one = elapsedMs(durations.snapshot) + elapsedMs(durations.patch) + elapsedMs(durations.healthCheck) + elapsedMs(durations.restore);
  return one * servers;
}

export type BatchFit = { fits: true; needMs: number; remainingMs: number } | { fits: false; needMs: number; remainingMs: number; reason: string };

/** A batch starts only if the window still has room for it and its rollback. */
export function fitBatch(window: { start: number; end: number }, now: number, needMs: number): BatchFit {
  const remainingMs = Math.max(0, window.end - Math.max(now, window.start));
  if (now >= window.end) return { fits: false, needMs, remainingMs, reason: 'the window is over' };
  if (needMs > remainingMs) return { fits: false, needMs, remainingMs, reason: `needs ${needMs} ms with its rollback, ${remainingMs} ms left in the window` };
  return { fits: true, needMs, remainingMs };
}

function monthDay(s: string): number {
  return Number(s.slice(0, 2)) * 100 + Number(s.slice(3, 5));
}

/** The freeze covering any local date of [start, end) in `tz`, if one does (same rule as calendar-windows). */
export function freezeTouching(freezes: readonly Freeze[], tz: string, start: number, end: number): Freeze | undefined {
  const clock = ZoneClock.of(tz);
  const last = clock.dayOf(Math.max(start, end - 1));
  for (let day = clock.dayOf(start); day <= last; day++) {
    const { month, day: dom } = civilFromDays(day);
    const md = month * 100 + dom;
    const hit = freezes.find((f) => {
      const from = monthDay(f.from);
      const to = monthDay(f.to);
      return from <= to ? md >= from && md <= to : md >= from || md <= to;
    });
    if (hit) return hit;
  }
  return undefined;
}

export interface WindowChoice {
  windows: readonly MaintenanceWindow[];
  freezes: readonly Freeze[];
  tz: string;
  /** Only this window of the contract (default: any). */
  window?: string;
  ignoreFreezes: boolean;
}

export type WindowOutcome = { ok: true; occurrence: WindowOccurrence } | { ok: false; reason: string };

/**
 * The window occurrence a change runs in from `now`: the one under way if it is not frozen
 * (or the change may run in a freeze), else the next one outside any freeze.
 */
export function changeWindow(choice: WindowChoice, now: number): WindowOutcome {
  const windows = choice.window === undefined ? choice.windows : choice.windows.filter((w) => w.name === choice.window);
  if (windows.length === 0) {
    return { ok: false, reason: choice.window === undefined ? 'the contract has no maintenance window' : `the contract has no maintenance window "${choice.window}"` };
  }
  const options = { ignoreFreezes: choice.ignoreFreezes };
  const current = windowAt(windows, choice.tz, now);
  if (current && (choice.ignoreFreezes || !freezeTouching(choice.freezes, choice.tz, current.start, current.end))) return { ok: true, occurrence: current };
  const next = nextWindowStart(windows, choice.freezes, choice.tz, now, options);
  if (!next) return { ok: false, reason: 'no maintenance window outside a freeze within ten years' };
  return { ok: true, occurrence: next };
}

const ElapsedDuration = Duration.refine((s) => parseDuration(s).kind === 'elapsed', 'expected an elapsed duration such as PT20M');

/** Expected durations a patch-cycle request may state; each missing one takes its conservative default. */
export const ActionDurationsInput = z.strictObject({
  snapshot: ElapsedDuration.optional(),
  patch: ElapsedDuration.optional(),
  healthCheck: ElapsedDuration.optional(),
  restore: ElapsedDuration.optional(),
});
export type ActionDurationsInput = z.infer<typeof ActionDurationsInput>;

// Not z.iso.datetime(): see IsoDate in ids.ts (schemas must judge alike inside the workflow bundle).
const IsoInstant = z.string().refine((s) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})$/.test(s) && isInstant(s), 'expected an ISO instant with its offset, e.g. 2027-03-28T01:00:00Z');

function isInstant(s: string): boolean {
  try {
    toInstant(s, 'UTC');
    return true;
  } catch {
    return false;
  }
}

/**
 * A window occurrence given by the requester instead of the contract's windows: for tests
 * (windows are minute-resolution calendar specs) and for an operator re-running a cycle in
 * an agreed slot. Freezes still apply to it.
 */
export const WindowOverride = z
  .strictObject({ start: IsoInstant, end: IsoInstant })
  .refine((w) => !isInstant(w.start) || !isInstant(w.end) || toInstant(w.start, 'UTC') < toInstant(w.end, 'UTC'), { message: 'a window ends after it starts', path: ['end'] });
export type WindowOverride = z.infer<typeof WindowOverride>;

/** What a patch-cycle request asks beyond the contract: another window, other durations, and why. */
export interface ChangeException {
  windowOverride?: WindowOverride;
  durations?: ActionDurationsInput;
  reason?: string;
}

/** The exception a request asks for, if any (`undefined`: the contract's windows and the default durations). */
export function changeExceptionOf(input: { windowOverride?: WindowOverride; durations?: ActionDurationsInput; exceptionReason?: string }): ChangeException | undefined {
  if (input.windowOverride === undefined && input.durations === undefined) return undefined;
  return { ...(input.windowOverride !== undefined && { windowOverride: input.windowOverride }), ...(input.durations !== undefined && { durations: input.durations }), ...(input.exceptionReason !== undefined && { reason: input.exceptionReason }) };
}

/**
 * The policy's conditions on an exception, as the request's fields to fix: only an emergency
 * change (approved by the policy's emergency approver) runs outside the contract's windows or
 * with other durations, and it says why; a reason without an exception is refused too.
 */
export function changeExceptionErrors(input: { changeType: ChangeType; windowOverride?: unknown; durations?: unknown; exceptionReason?: string }): { path: string; message: string }[] {
  const asked = (['windowOverride', 'durations'] as const).filter((f) => input[f] !== undefined);
  if (asked.length === 0) return input.exceptionReason !== undefined ? [{ path: 'exceptionReason', message: 'no exception is asked for (windowOverride, durations)' }] : [];
  const errors: { path: string; message: string }[] = input.changeType === 'emergency' ? [] : asked.map((f) => ({ path: f, message: "only an emergency change runs outside the contract's windows or with other durations (changeType: emergency)" }));
  if (input.exceptionReason === undefined) errors.push({ path: 'exceptionReason', message: 'an exception to the contract says why' });
  return errors;
}
