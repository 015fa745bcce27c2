// Incident (services support, security-monitoring): the provider's service desk triages and
// sets the priority, n2 resolves (asking the client when it needs to: the provider's clock
// stops meanwhile), the client confirms; a refusal reopens it, silence closes it at the
// confirm row's hard deadline. SLA: response (open → triage) and resolution (open →
// confirmed) per priority, from the contract's `slas.support`.
import { z } from 'zod';
import * as wf from '@temporalio/workflow';
import { PROCESSES, type IncidentInput } from '../domain/catalogue';
import { calendarNamed } from '../domain/deadline';
import { isBreached, startClock, stopClock } from '../domain/sla-clock';
import { Priority } from '../domain/terms';
import type { ContractSlice } from '../domain/raci';
import type { SlaRecordInput } from '../activities/engine';
import { alertReplayedSignal, incidentAlertSignal, incidentStateQuery, type IncidentAlert, type IncidentState, type ProcessStart } from './definitions';
import { nowIso, nowMs, runProcess, type ProcessRun } from './process';
import type { JournalEntry } from './kernel/journal';
import { runStep } from './step';
import { admitSignal } from './signed-acts';

export interface IncidentResult {
  priority: Priority;
  closed: 'confirmed' | 'auto-closed';
  resolution?: string;
  reopened: number;
  alerts: number;
}

const Triage = z.strictObject({ priority: Priority, note: z.string().max(2000).optional() });
/** n2 either proposes a resolution (and may reclassify) or asks the client a question. */
const Resolve = z.union([
  z.strictObject({ resolution: z.string().min(1).max(5000), priority: Priority.optional(), reason: z.string().max(2000).optional() }),
  z.strictObject({ waitingOn: z.literal('client'), question: z.string().min(1).max(2000) }),
]);
const ClientInfo = z.strictObject({ answer: z.string().min(1).max(5000) });
const Confirm = z.strictObject({ confirmed: z.boolean(), comment: z.string().max(2000).optional() });

const DEFAULT_PRIORITY: Priority = 'P3';

/**
 * Where an incident stands, set before each step: a run that continues as new (a flapping
 * monitor, a confirmation awaited for days) starts again from here.
 */
interface IncidentCheckpoint {
  phase: 'triage' | 'resolve' | 'client-info' | 'confirm';
  state: IncidentState;
  priority: Priority;
  clientAnswer?: string;
  refusal?: string;
  question?: string;
  resolution?: string;
  /** Repeats not journaled yet (a live object: the carry reads it when the run hands over). */
  folding?: Folding;
}

/** Repeated alerts are folded into one entry per FOLD_MS (runs recorded before: one each). */
export const PATCH_FOLD_ALERTS = 'fold-repeated-alerts';
const FOLD_MS = 30_000;

interface Fold {
  repeats: number;
  firstAt: string;
  last: IncidentAlert;
  /** The distinct alert keys and channels folded (a few: one monitor, one channel). */
  alertKeys: string[];
  via: string[];
}

interface Folding {
  /** Workflow time of the last entry written for repeats. */
  journaledAt: number;
  pending?: Fold;
}

const FOLDED_NAMES = 20;
const addName = (names: string[], name: string) => (names.includes(name) || names.length >= FOLDED_NAMES ? names : [...names, name]);

function foldInto(fold: Fold | undefined, alert: IncidentAlert): Fold {
  if (!fold) return { repeats: 1, firstAt: alert.receivedAt, last: alert, alertKeys: [alert.alertKey], via: [alert.via] };
  return { repeats: fold.repeats + 1, firstAt: fold.firstAt, last: alert, alertKeys: addName(fold.alertKeys, alert.alertKey), via: addName(fold.via, alert.via) };
}

/** One entry for the repeats folded: how many, from when to when, and the running count. */
function repeatsEntry(fold: Fold, count: number): JournalEntry {
  return { event: 'incident.alert-repeated', actor: fold.last.via, data: { ...fold.last, count, repeats: fold.repeats, firstAt: fold.firstAt, alertKeys: fold.alertKeys, via: fold.via.join(',') } };
}

export async function incident(start: ProcessStart): Promise<IncidentResult> {
  return runProcess(start, PROCESSES.incident, async (run, input: IncidentInput) => {
    const saved = run.resumed?.checkpoint as IncidentCheckpoint | undefined;
    const openedAt = saved ? Date.parse(saved.state.openedAt) : nowMs();
    const state: IncidentState = saved?.state ?? { openedAt: new Date(openedAt).toISOString(), priority: input.priority, triaged: false, alerts: { count: 0 }, reopened: 0 };
    wf.setHandler(incidentStateQuery, () => state);
    // Repeats are folded: one entry at once, then at most one per FOLD_MS counting the repeats
    // in between, and what is left at the next step or the end. A flapping monitor costs the
    // history a few entries a minute, not one per alert. Runs recorded before wrote each one.
    const folding: Folding = saved?.folding ?? { journaledAt: 0 };
    const fold = saved !== undefined || wf.patched(PATCH_FOLD_ALERTS);
    const flushAlerts = () => {
      if (folding.pending) run.note(repeatsEntry(folding.pending, state.alerts.count));
      folding.pending = undefined;
    };
    // signalWithStart delivers the opening alert first; later ones are repeats of the same thing.
    wf.setHandler(incidentAlertSignal, (alert) => {
      if (!admitSignal(run, 'incidentAlert', alert)) return;
      state.alerts = { count: state.alerts.count + 1, lastAt: alert.receivedAt };
      const opening = state.alerts.count === 1 && input.source.kind === 'monitoring' && input.source.ref === alert.alertKey;
      const entry = { event: opening ? 'incident.alert-received' : 'incident.alert-repeated', actor: alert.via, data: { ...alert, count: state.alerts.count } };
      if (opening) return run.note(entry);
      if (!fold) return run.attestSoon(entry);
      folding.pending = foldInto(folding.pending, alert);
      if (nowMs() - folding.journaledAt < FOLD_MS) return;
      folding.journaledAt = nowMs();
      run.attestSoon(repeatsEntry(folding.pending, state.alerts.count));
      folding.pending = undefined;
    });

    // A replayed signed alert was refused by the API (409): journaled as a security event, never counted.
    wf.setHandler(alertReplayedSignal, (replay) => run.attestSoon({ event: 'security.alert-replayed', actor: 'signature', data: { ...replay } }));

    // Unknown assets stay in the details: routing by asset needs one of the contract's scope.
    const asset = input.asset !== undefined && run.slice.scope.assets.some((a) => a.id === input.asset) ? input.asset : undefined;
    const about = { title: input.title, description: input.description, source: input.source, asset: input.asset };

    let phase: IncidentCheckpoint['phase'] = saved?.phase ?? 'triage';
    let priority: Priority = saved?.priority ?? input.priority ?? DEFAULT_PRIORITY;
    let clientAnswer = saved?.clientAnswer;
    let refusal = saved?.refusal;
    let question = saved?.question;
    let resolution = saved?.resolution;
    const checkpoint = () => {
      flushAlerts();
      run.checkpoint = { phase, state, priority, clientAnswer, refusal, question, resolution, folding } satisfies IncidentCheckpoint;
    };

    if (phase === 'triage') {
      checkpoint();
      const triage = await runStep(run, 'incident.triage', { title: `Triage: ${input.title}`, asset, details: { ...about, reportedPriority: input.priority ?? null }, completion: Triage });
      const triaged = triage.outcome === 'done' ? Triage.safeParse(triage.output) : undefined;
      priority = triaged?.success ? triaged.data.priority : (input.priority ?? DEFAULT_PRIORITY);
      state.priority = priority;
      state.triaged = true;
      if (!triaged?.success) run.note({ stepKey: 'incident.triage', event: 'incident.priority-defaulted', data: { priority, outcome: triage.outcome } });

      const targets = supportTargets(run.slice, priority);
      if (targets) {
        // Response: open → triage done, judged against the priority triage set.
        const response = responseRecord(run, targets, priority, openedAt, nowMs());
        run.note(response.entry, { slaRecords: [response.record] });
        run.startClock({ name: 'resolution', clause: `${targets.clause}/resolution`, target: targets.resolution, calendar: targets.calendar, priority, startedAt: openedAt });
      } else {
        run.note({ event: 'sla.not-applicable', data: { priority, reason: `the contract has no slas.support.${priority}` } });
      }
      phase = 'resolve';
    }

    for (;;) {
      if (phase === 'resolve') {
        checkpoint();
        const resolved = await runStep(run, 'incident.resolve', {
          title: `Resolve (${priority}): ${input.title}`,
          asset,
          details: { ...about, priority, ...(clientAnswer !== undefined && { clientAnswer }), ...(refusal !== undefined && { refusedBecause: refusal }) },
          completion: Resolve,
        });
        if (resolved.outcome !== 'done') throw wf.ApplicationFailure.nonRetryable(`resolution ${resolved.outcome}: ${resolved.reason ?? ''}`, 'StepFailed');
        const proposal = Resolve.parse(resolved.output);
        if ('waitingOn' in proposal) {
          question = proposal.question;
          phase = 'client-info';
          continue;
        }
        if (proposal.priority !== undefined && proposal.priority !== priority) {
          // The clock keeps the target it started with (the kernel's clock has no retargeting yet).
          run.note({ stepKey: 'incident.resolve', event: 'incident.reclassified', actor: resolved.completedBy && `user:${resolved.completedBy}`, data: { from: priority, to: proposal.priority, reason: proposal.reason } });
          priority = proposal.priority;
          state.priority = priority;
        }
        resolution = proposal.resolution;
        phase = 'confirm';
        continue;
      }

      if (phase === 'client-info') {
        state.waitingOn = clientPartyOf(run);
        checkpoint();
        const info = await runStep(run, 'incident.client-info', { title: `Information needed: ${input.title}`, asset, details: { ...about, question }, completion: ClientInfo });
        state.waitingOn = undefined;
        const answer = info.outcome === 'done' ? ClientInfo.safeParse(info.output) : undefined;
        clientAnswer = answer?.success ? answer.data.answer : undefined;
        if (!answer?.success) run.note({ stepKey: 'incident.client-info', event: 'incident.client-info-unanswered', data: { question, outcome: info.outcome } });
        phase = 'resolve';
        continue;
      }

      state.waitingOn = clientPartyOf(run);
      checkpoint();
      const confirmation = await runStep(run, 'incident.confirm', { title: `Confirm the resolution: ${input.title}`, asset, details: { ...about, priority, resolution }, completion: Confirm });
      state.waitingOn = undefined;
      if (confirmation.outcome === 'expired') {
        run.note({ stepKey: 'incident.confirm', event: 'incident.auto-closed', data: { reason: 'no confirmation by the hard deadline of incident.confirm' } });
        flushAlerts();
        await run.stopClock();
        return { priority, closed: 'auto-closed', resolution, reopened: state.reopened, alerts: state.alerts.count };
      }
      const answer = confirmation.outcome === 'done' ? Confirm.safeParse(confirmation.output) : undefined;
      if (answer?.success && answer.data.confirmed) {
        run.note({ stepKey: 'incident.confirm', event: 'incident.confirmed', actor: confirmation.completedBy && `user:${confirmation.completedBy}`, data: { resolution } });
        flushAlerts();
        await run.stopClock();
        return { priority, closed: 'confirmed', resolution, reopened: state.reopened, alerts: state.alerts.count };
      }
      state.reopened++;
      refusal = answer?.success ? (answer.data.comment ?? 'refused') : `confirmation ${confirmation.outcome}`;
      clientAnswer = undefined;
      run.note({ stepKey: 'incident.confirm', event: 'incident.reopened', actor: confirmation.completedBy && `user:${confirmation.completedBy}`, data: { reason: refusal, reopened: state.reopened, at: nowIso() } });
      phase = 'resolve';
    }
  });
}

interface SupportTargets {
  clause: string;
  response: string;
  resolution: string;
  calendar?: string;
}

/** The targets of a priority and the calendar they count in (the priority's, else the support one). */
function supportTargets(slice: ContractSlice, priority: Priority): SupportTargets | undefined {
  const support = slice.slas?.support;
  const target = support?.[priority];
  if (!target) return undefined;
  const calendar = target.calendar ?? support.calendar;
  return { clause: `slas/support/${priority}`, response: target.response, resolution: target.resolution, ...(calendar !== undefined && { calendar }) };
}

/** Triage is the provider's own work (never paused), so the response time is counted at once. */
function responseRecord(run: ProcessRun, targets: SupportTargets, priority: Priority, openedAt: number, at: number): { entry: JournalEntry; record: SlaRecordInput } {
  const clock = startClock({ name: 'response', clause: `${targets.clause}/response`, target: targets.response, calendar: calendarNamed(run.slice, targets.calendar), at: openedAt });
  const stopped = stopClock(clock, at);
  const breached = isBreached(clock, at);
  const until = run.slice.stabilisationUntil;
  const entry: JournalEntry = { stepKey: 'incident.triage', event: breached ? 'sla.breached' : 'sla.met', clause: clock.clause, data: { clock: 'response', target: clock.target, elapsedMs: stopped.accumulatedMs } };
  const record: SlaRecordInput = {
    processId: run.processId,
    clock: 'response',
    contractId: run.start.contractId,
    clause: clock.clause,
    priority,
    target: clock.target,
    targetMs: clock.targetMs,
    elapsedMs: stopped.accumulatedMs,
    breached,
    ...(breached && clock.deadlineAt !== undefined && { breachedAt: new Date(clock.deadlineAt).toISOString() }),
    stoppedAt: new Date(at).toISOString(),
    penaltiesApply: until === undefined || new Date(openedAt).toISOString().slice(0, 10) > until,
    startedAt: new Date(openedAt).toISOString(),
  };
  return { entry, record };
}

function clientPartyOf(run: ProcessRun): string | undefined {
  return run.slice.parties.find((p) => p.kind === 'client')?.id;
}
