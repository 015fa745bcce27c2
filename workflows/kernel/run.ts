// One run of a process: its parts (journal, SLA clock, inbox, agent jobs, history budget)
// and the small vocabulary process code uses beside runStep: `note` a remark or decision
// (written with the next write) and `attest` one (written before the process goes on).
// Process files never reach the journal or the inbox themselves (eslint.config.js).
import * as wf from '@temporalio/workflow';
import type { ContractSlice } from '../../domain/raci';
import type { ProcessStart, ProcessState } from '../definitions';
import { ProcessClock, type ClockCarry } from './clock';
import { TaskInbox, type InboxCarry } from './inbox';
import { AgentJobs } from './jobs';
import { ProcessJournal, type Effects, type JournalEntry } from './journal';

/** What a process carries into the run that continues it (docs/ARCHITECTURE.md "Bounded histories"). */
export interface ProcessCarry {
  /** How many runs came before this one. */
  run: number;
  seq: number;
  /** Entries and effects the previous run numbered but did not write: this run writes them first. */
  unwritten: ReturnType<ProcessJournal['unwritten']>;
  steps: ProcessState['steps'];
  clock?: ClockCarry;
  inbox: InboxCarry;
  /** The process's own place in its work (what `checkpoint` was set to). */
  checkpoint: unknown;
}

/**
 * A run continues as new before the server's own suggestion (4,096 events or 4 MB), and
 * after at most 2,000 completions (each an update; update ids deduplicate per run only).
 */
export const HISTORY_BUDGET = { events: 3_000, bytes: 3 * 1024 * 1024, updates: 2_000 } as const;

/** Thrown by a resumable wait when the run must continue as new; runProcess catches it. */
export class ContinueAsNewRequested extends Error {
  constructor() {
    super('the history budget is spent: the process continues in a new run');
    this.name = 'ContinueAsNewRequested';
  }
}

export class ProcessRun {
  readonly processId = wf.workflowInfo().workflowId;
  readonly state: ProcessState;
  readonly journal: ProcessJournal;
  readonly clock: ProcessClock;
  readonly inbox: TaskInbox;
  readonly jobs = new AgentJobs();
  /**
   * Where the process stands in its own terms, set before each step it can resume at. A
   * process that sets it may continue as new while it waits for a person; one that never
   * sets it runs in one history (each scheduled occurrence is its own workflow).
   */
  checkpoint: unknown = undefined;
  /** What the previous run carried, when this run continues one. */
  readonly resumed?: ProcessCarry;

  constructor(
    readonly start: ProcessStart,
    readonly slice: ContractSlice,
    durable: boolean,
  ) {
    this.resumed = start.resume;
    this.state = {
      processId: this.processId,
      processType: start.processType,
      contractId: start.contractId,
      contractVersion: start.version,
      status: 'running',
      steps: start.resume?.steps ?? [],
    };
    this.journal = new ProcessJournal(this.processId, durable, start.resume?.seq ?? 0);
    this.clock = new ProcessClock(this.processId, start.contractId, slice, this.journal, (view) => {
      this.state.sla = view;
    });
    this.inbox = new TaskInbox(this.processId, start.requestedBy.userId, this.journal);
    if (start.resume) {
      this.journal.takeBack(start.resume.unwritten);
      if (start.resume.clock) this.clock.resume(start.resume.clock);
      this.inbox.takeBack(start.resume.inbox);
      this.checkpoint = start.resume.checkpoint;
    }
  }

  /** Holding work on the provider's side runs its SLA clock again. */
  get providerId(): string {
    return this.slice.parties.find((p) => p.kind === 'provider')?.id ?? '';
  }

  /** A remark or decision of the process, journaled (with its effects) by the next write. */
  note(entry: JournalEntry, effects?: Effects): void {
    this.journal.append(entry);
    if (effects) this.journal.defer(effects);
  }

  /** Like note, but written before the process goes on (evidence that must not wait for the next step). */
  async attest(entry?: JournalEntry, effects?: Effects): Promise<void> {
    if (entry) this.journal.append(entry);
    await this.journal.write(effects);
  }

  startClock(input: Parameters<ProcessClock['start']>[0]): void {
    this.clock.start(input);
  }

  stopClock(): Promise<void> {
    return this.clock.stop();
  }

  holdBy(partyId: string): void {
    this.clock.holdBy(partyId);
  }

  /**
   * Like attest, for signal handlers: the write starts now but nothing waits for it, so the
   * handler ends at once (a run hands over only once every handler finished, and a flood of
   * signals would otherwise keep one always running). A failed write fails the process at its
   * next wait.
   */
  attestSoon(entry: JournalEntry): void {
    this.journal.append(entry);
    this.journal.write().catch((err: unknown) => {
      this.failure ??= err;
    });
  }

  /** A write started by attestSoon failed: thrown by the next wait. */
  private failure: unknown = undefined;

  /** The budget is spent and the process said where it stands: the next resumable wait hands over. */
  mustContinue(): boolean {
    if (!this.journal.isDurable || this.checkpoint === undefined) return false;
    const info = wf.workflowInfo();
    return info.continueAsNewSuggested || info.historyLength >= HISTORY_BUDGET.events || info.historySize >= HISTORY_BUDGET.bytes || this.inbox.accepted >= HISTORY_BUDGET.updates;
  }

  /**
   * A step boundary: when the budget is spent and the process said where it stands (its
   * checkpoint, set for the step about to run), the run hands over here. No step and no agent
   * job is in flight at a boundary, so nothing but the checkpoint and the journal is carried.
   */
  handOverIfDue(): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.mustContinue()) throw new ContinueAsNewRequested();
  }

  /**
   * Waits until `done` or the timeout (false). A resumable wait (a person's task the next run
   * can take back) is cut short when the run must continue as new.
   */
  async until(done: () => boolean, timeoutMs?: number, { resumable = false } = {}): Promise<boolean> {
    const interrupted = () => this.failure !== undefined || (resumable && this.mustContinue());
    const raise = () => {
      if (this.failure !== undefined) throw this.failure;
      throw new ContinueAsNewRequested();
    };
    if (interrupted()) raise();
    const ended = timeoutMs === undefined ? (await wf.condition(() => done() || interrupted()), true) : await wf.condition(() => done() || interrupted(), timeoutMs);
    if (done()) return true;
    if (interrupted()) raise();
    return ended;
  }

  /** What the next run needs to go on from here. */
  carry(): ProcessCarry {
    return {
      run: (this.resumed?.run ?? 0) + 1,
      seq: this.journal.lastSeq,
      unwritten: this.journal.unwritten(),
      steps: this.state.steps,
      ...(this.clock.carry() && { clock: this.clock.carry() }),
      inbox: this.inbox.carry(),
      checkpoint: this.checkpoint,
    };
  }
}
