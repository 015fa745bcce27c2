// The process's SLA clock (docs/ARCHITECTURE.md "SLA clocks"): started by the process,
// paused while the client or a vendor the client contracted holds the work, its breach
// recorded once when the running clock reaches its deadline.
import * as wf from '@temporalio/workflow';
import type { ContractSlice } from '../../domain/raci';
import { calendarNamed } from '../../domain/deadline';
import { elapsedBusinessMs, pauseClock, resumeClock, sideOf, startClock, stopClock, type SlaClockState } from '../../domain/sla-clock';
import type { SlaRecordInput } from '../../activities/engine';
import type { SlaClockView } from '../definitions';
import type { ProcessJournal } from './journal';
import { isoOf, nowMs } from './time';

/** What a clock carries across continue-as-new. */
export interface ClockCarry {
  state: SlaClockState;
  priority?: string;
  calendar?: string;
}

export class ProcessClock {
  private clock?: SlaClockState;
  private priority?: string;
  private calendar?: string;
  private version = 0;
  private watch?: Promise<void>;

  constructor(
    private readonly processId: string,
    private readonly contractId: string,
    private readonly slice: ContractSlice,
    private readonly journal: ProcessJournal,
    /** Called with the view whenever the clock changes (the process state query shows it). */
    private readonly show: (view: SlaClockView | undefined) => void,
  ) {}

  /**
   * Starts the clock; its deadline is watched until the clock stops. `startedAt` (epoch ms,
   * not in the future) counts from an earlier instant, e.g. when the incident was opened
   * although its priority, and so its target, is known only at triage.
   */
  start(input: { name: string; clause: string; target: string; calendar?: string; priority?: string; startedAt?: number }): void {
    this.clock = startClock({ name: input.name, clause: input.clause, target: input.target, calendar: calendarNamed(this.slice, input.calendar), at: Math.min(input.startedAt ?? nowMs(), nowMs()) });
    this.priority = input.priority;
    this.calendar = input.calendar;
    this.journal.append({ event: 'sla.started', clause: input.clause, data: { clock: input.name, target: input.target, deadlineAt: isoOf(this.clock.deadlineAt) } });
    this.changed();
    this.watch = this.watchDeadline();
    // A cancelled run rejects the watcher too; stop() awaits it, nothing else must see it.
    this.watch.catch(() => undefined);
  }

  /** A clock carried from the previous run goes on as it was, unjournaled. */
  resume(carry: ClockCarry): void {
    this.clock = carry.state;
    this.priority = carry.priority;
    this.calendar = carry.calendar;
    this.changed();
    this.watch = this.watchDeadline();
    this.watch.catch(() => undefined);
  }

  carry(): ClockCarry | undefined {
    return this.clock && { state: this.clock, ...(this.priority !== undefined && { priority: this.priority }), ...(this.calendar !== undefined && { calendar: this.calendar }) };
  }

  /**
   * Who holds the work now: the client or a vendor the client contracted stops the clock;
   * the provider or its subcontractors run it.
   */
  holdBy(partyId: string): void {
    const clock = this.clock;
    if (!clock || clock.stoppedAt !== undefined) return;
    const side = sideOf(partyId, this.slice.parties);
    if (side === 'client' && clock.runningSince !== undefined) {
      this.clock = pauseClock(clock, nowMs(), `waiting on ${partyId}`);
      this.journal.append({ event: 'sla.paused', partyId, clause: clock.clause, data: { clock: clock.name, reason: this.clock.pauseReason, accumulatedMs: this.clock.accumulatedMs } });
      this.changed();
    } else if (side === 'provider' && clock.pausedSince !== undefined) {
      this.clock = resumeClock(clock, nowMs());
      this.journal.append({ event: 'sla.resumed', partyId, clause: clock.clause, data: { clock: clock.name, deadlineAt: isoOf(this.clock.deadlineAt) } });
      this.changed();
    }
  }

  /** Stops the clock and waits for its watcher; the record of its outcome goes with the next write. */
  async stop(): Promise<void> {
    const clock = this.clock;
    if (!clock || clock.stoppedAt !== undefined) return;
    this.clock = stopClock(clock, nowMs());
    this.journal.append({ event: 'sla.stopped', clause: clock.clause, data: { clock: clock.name, elapsedMs: this.clock.accumulatedMs, targetMs: clock.targetMs } });
    this.journal.defer({ slaRecords: [this.record(this.clock)] });
    this.changed();
    await this.watch;
  }

  private changed(): void {
    this.version++;
    this.show(this.clock && { ...clockView(this.clock), ...(this.calendar ? { calendar: this.calendar } : {}) });
  }

  /** Records the breach once, when the running clock reaches its deadline. */
  private async watchDeadline(): Promise<void> {
    for (;;) {
      const clock = this.clock;
      if (!clock || clock.stoppedAt !== undefined || clock.breachedAt !== undefined) return;
      const version = this.version;
      const changed = () => this.version !== version;
      if (clock.deadlineAt === undefined) {
        await wf.condition(changed);
        continue;
      }
      if (await wf.condition(changed, Math.max(1, clock.deadlineAt - nowMs()))) continue;
      const at = nowMs();
      this.clock = { ...clock, breachedAt: at };
      this.journal.append({ event: 'sla.breached', clause: clock.clause, data: { clock: clock.name, target: clock.target, elapsedMs: elapsedBusinessMs(clock, at) } });
      await this.journal.write({ slaRecords: [this.record(this.clock)] });
      this.changed();
    }
  }

  private record(clock: SlaClockState): SlaRecordInput {
    const until = this.slice.stabilisationUntil;
    return {
      processId: this.processId,
      clock: clock.name,
      contractId: this.contractId,
      clause: clock.clause,
      priority: this.priority,
      target: clock.target,
      targetMs: clock.targetMs,
      elapsedMs: clock.stoppedAt !== undefined ? clock.accumulatedMs : undefined,
      breached: clock.breachedAt !== undefined,
      breachedAt: isoOf(clock.breachedAt),
      stoppedAt: isoOf(clock.stoppedAt),
      // No penalties during the stabilisation period (compared by calendar date, in UTC).
      penaltiesApply: until === undefined || new Date(clock.startedAt).toISOString().slice(0, 10) > until,
      startedAt: new Date(clock.startedAt).toISOString(),
    };
  }
}

function clockView(c: SlaClockState): SlaClockView {
  return {
    name: c.name,
    clause: c.clause,
    target: c.target,
    targetMs: c.targetMs,
    startedAt: new Date(c.startedAt).toISOString(),
    accumulatedMs: c.accumulatedMs,
    runningSince: isoOf(c.runningSince),
    pausedSince: isoOf(c.pausedSince),
    pauseReason: c.pauseReason,
    deadlineAt: isoOf(c.deadlineAt),
    breachedAt: isoOf(c.breachedAt),
    stoppedAt: isoOf(c.stoppedAt),
  };
}
