// The process's journal and everything its writes carry (docs/ARCHITECTURE.md "The record
// follows the history"): entries are numbered and buffered here, and written with the
// effects of a transition (tasks, outbox, job offers, SLA records, process status) in one
// transaction by an activity whose input is in the history before it runs. So the database
// may lag the history, never lead it: a crash before the write repeats the same write, a
// crash before the history holds it writes nothing.
import * as wf from '@temporalio/workflow';
import type { EngineActivities, JournalInput, StepRecord } from '../../activities/engine';
import { nowIso } from './time';
import { failureReason } from './failure';

export type Effects = Omit<StepRecord, 'processId' | 'entries'>;
export type JournalEntry = Omit<JournalInput, 'seq' | 'at'>;

/** Runs recorded before the durable writes wrote with local activities (see `legacy` below). */
const legacyLocal = wf.proxyLocalActivities<EngineActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '200ms', maximumInterval: '10s' },
});

/**
 * A regular activity: retried until the database answers (connection and concurrency
 * errors), never for data the database refuses (`DataRejected`, db/errors.ts). A write takes
 * milliseconds: a short timeout means a worker killed mid-write is replaced within 20 s.
 */
const durable = wf.proxyActivities<EngineActivities>({
  startToCloseTimeout: '20s',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '10s', nonRetryableErrorTypes: ['DataRejected'] },
});

/** Writes wait for the previous one (parallel steps); runs recorded before wrote as they came. */
const PATCH_CHAINED_WRITES = 'chained-writes';

export class ProcessJournal {
  private seq: number;
  private buffered: JournalInput[] = [];
  /** Effects a finished step left to be written with the next write (see defer). */
  private deferred: Effects = {};
  private writes: Promise<void> = Promise.resolve();
  private queued?: Promise<void>;
  private inFlight = 0;
  private held = false;
  /** Set when the database refused even a cleaned copy of a write: entries are no longer written. */
  private broken = false;
  /** Steps running now: more than one (parallel steps) means writes must not overtake each other. */
  activeSteps = 0;

  constructor(
    readonly processId: string,
    /** false: a run recorded before durable writes, replayed with its local activities. */
    readonly isDurable: boolean,
    seq = 0,
  ) {
    this.seq = seq;
  }

  /** The sequence number of the last entry numbered (carried across continue-as-new). */
  get lastSeq(): number {
    return this.seq;
  }

  /**
   * The run is handing over: writes asked for from now on are kept for the next run (which
   * writes them first), so a stream of signals cannot hold the hand-over open.
   */
  hold(): void {
    this.held = true;
  }

  /** No write is in flight (none can start once held). */
  isDrained(): boolean {
    return this.inFlight === 0;
  }

  /** What the next run writes first: entries numbered and effects deferred but not yet written. */
  unwritten(): { entries: JournalInput[]; effects: Effects } {
    const { processId: _p, entries, ...effects } = this.take();
    return { entries, effects };
  }

  /** Takes back what the previous run left unwritten (before anything of this run is numbered). */
  takeBack(unwritten: { entries: JournalInput[]; effects: Effects }): void {
    this.buffered = [...unwritten.entries, ...this.buffered];
    this.deferred = mergeEffects(unwritten.effects, this.deferred);
  }

  /** Numbers an entry; it is written with the next write. */
  append(entry: JournalEntry): void {
    this.buffered.push({ ...entry, seq: ++this.seq, at: nowIso() });
  }

  /**
   * Keeps effects for the next write instead of a write of their own: the next engine action
   * writes them in its own transaction before it acts, a task opening or the end of the
   * process writes them with its record. A replay rebuilds the same entries, and every part
   * of a write is idempotent.
   */
  defer(effects: Effects): void {
    this.deferred = mergeEffects(this.deferred, effects);
  }

  /**
   * Writes buffered entries, deferred effects and the given ones in one transaction. Writes
   * are chained: an entry's predecessor in the hash chain is always written first, even when
   * parallel steps write at once.
   */
  async write(effects: Effects = {}): Promise<void> {
    if (!this.isDurable) return this.writeLegacy(effects);
    // A write queued behind one in flight takes everything noted until it starts: writes asked
    // for meanwhile (a burst of alerts) join it instead of each costing an activity.
    this.defer(effects);
    if (this.held) return;
    if (this.queued) return this.queued;
    this.inFlight++;
    const write = this.writes
      .then(() => {
        this.queued = undefined;
        return this.writeNow(this.take());
      })
      .finally(() => {
        this.inFlight--;
      });
    this.queued = write;
    this.writes = write.catch(() => undefined);
    await write;
  }

  /**
   * What an engine or agent activity may write before it acts, sparing a write of its own:
   * only while one step runs, so no other write can be in flight meanwhile.
   */
  carry(): StepRecord | undefined {
    return this.activeSteps <= 1 ? this.take() : undefined;
  }

  /**
   * Puts back a record handed to an activity that may not have written it (cancelled,
   * failed): the next write carries it again, and every part of a write is idempotent.
   */
  restore(record: StepRecord): void {
    this.buffered = [...record.entries, ...this.buffered];
    const { processId: _p, entries: _e, ...effects } = record;
    this.deferred = mergeEffects(effects, this.deferred);
  }

  /** Everything not yet written, as one record; the caller must write it. */
  take(effects: Effects = {}): StepRecord {
    const record: StepRecord = { processId: this.processId, entries: this.broken ? [] : this.buffered, ...mergeEffects(this.deferred, effects) };
    this.buffered = [];
    this.deferred = {};
    return record;
  }

  private async writeNow(record: StepRecord): Promise<void> {
    if (isEmptyRecord(record)) return;
    try {
      await durable.recordStep(record);
    } catch (err) {
      if (!isDataRejected(err)) {
        this.restore(record);
        throw err;
      }
      // The database refused a value (class 22/23): the same numbers are written once with
      // every string cleaned, so the chain has no gap, then the step fails visibly.
      const reason = failureReason(err);
      try {
        await durable.recordStep(cleanRecord(record, reason));
      } catch (again) {
        if (!isDataRejected(again)) throw again;
        this.broken = true;
      }
      throw wf.ApplicationFailure.nonRetryable(`the database refused a write of this process: ${reason}`, 'DataRejected');
    }
  }

  private async writeLegacy(effects: Effects): Promise<void> {
    if (!wf.patched(PATCH_CHAINED_WRITES)) {
      await legacyLocal.recordStep(this.take(effects));
      return;
    }
    const write = this.writes.then(() => legacyLocal.recordStep(this.take(effects)));
    this.writes = write.catch(() => undefined);
    await write;
  }
}

export function isDataRejected(err: unknown): boolean {
  return err instanceof wf.ActivityFailure && err.cause instanceof wf.ApplicationFailure && err.cause.type === 'DataRejected';
}

export function isEmptyRecord(r: StepRecord): boolean {
  return r.entries.length === 0 && !r.openTasks?.length && !r.settleTasks?.length && !r.outbox?.length && !r.offerJobs?.length && !r.withdrawJobs?.length && !r.reofferJobs?.length && !r.slaRecords?.length && !r.process;
}

/** Lone surrogates and NUL, which PostgreSQL's text and jsonb refuse. */
// eslint-disable-next-line no-control-regex
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function clean(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(UNSTORABLE, '\ufffd');
  if (Array.isArray(value)) return value.map(clean);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [clean(k) as string, clean(v)]));
  return value;
}

/** The same write with every string made storable; each entry says its data was cleaned. */
function cleanRecord(record: StepRecord, reason: string): StepRecord {
  const cleaned = clean(record) as StepRecord;
  return { ...cleaned, entries: cleaned.entries.map((e) => ({ ...e, data: { ...e.data, refusedByDatabase: reason } })) };
}

export function mergeEffects(a: Effects, b: Effects): Effects {
  const merged: Effects = {};
  const openTasks = [...(a.openTasks ?? []), ...(b.openTasks ?? [])];
  const offerJobs = [...(a.offerJobs ?? []), ...(b.offerJobs ?? [])];
  const slaRecords = [...(a.slaRecords ?? []), ...(b.slaRecords ?? [])];
  const withdrawJobs = [...(a.withdrawJobs ?? []), ...(b.withdrawJobs ?? [])];
  const reofferJobs = [...(a.reofferJobs ?? []), ...(b.reofferJobs ?? [])];
  const settleTasks = [...(a.settleTasks ?? []), ...(b.settleTasks ?? [])];
  const outbox = [...(a.outbox ?? []), ...(b.outbox ?? [])];
  if (openTasks.length) merged.openTasks = openTasks;
  if (settleTasks.length) merged.settleTasks = settleTasks;
  if (outbox.length) merged.outbox = outbox;
  if (offerJobs.length) merged.offerJobs = offerJobs;
  if (slaRecords.length) merged.slaRecords = slaRecords;
  if (withdrawJobs.length) merged.withdrawJobs = withdrawJobs;
  if (reofferJobs.length) merged.reofferJobs = reofferJobs;
  if (a.process || b.process) merged.process = { ...a.process, ...b.process };
  if (a.contract || b.contract) merged.contract = { ...a.contract, ...b.contract } as NonNullable<Effects['contract']>;
  return merged;
}
