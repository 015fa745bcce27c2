// The runbook interpreter: runs any registered runbook (domain/runbook.ts) step by step
// through runStep, so routing, approvals, the journal and SLAs apply as for coded
// processes. The definition travels in the start (pinned by the API at its version):
// a workflow never reads the database.
import * as wf from '@temporalio/workflow';
import { PROCESSES, SERVICES, type ProcessDefinition } from '../domain/catalogue';
import {
  afterFailure,
  resolveAsset,
  resolveParams,
  runbookActivityKeys,
  RunbookStart,
  shouldRun,
  validateRunbook,
  validateRunbookInput,
  type Compensation,
  type Runbook,
  type RunbookData,
  type RunbookStep,
  type RunbookStepRecord,
} from '../domain/runbook';
import type { ProcessStart } from './definitions';
import { runbookReader } from './kernel/readers';
import { runProcess, type ProcessRun } from './process';
import { runStep } from './step';

export interface RunbookResult {
  runbook: string;
  version?: number;
  steps: Record<string, RunbookStepRecord>;
}


export async function runbookInterpreter(given$: ProcessStart<RunbookStart>): Promise<RunbookResult> {
  const start = await pinnedStart(given$);
  const given = RunbookStart.safeParse(start.input);
  const pinned = given.success ? given.data.definition : undefined;
  // The slice must hold this runbook's keys: the catalogue entry has none of its own.
  const definition: ProcessDefinition = {
    ...PROCESSES.runbook,
    services: pinned ? [pinned.service] : [],
    activityKeys: pinned ? runbookActivityKeys(pinned) : [],
  };
  return runProcess(start, definition, async (run, input: RunbookStart) => {
    const runbook = checkedRunbook(input);
    const values = validateRunbookInput(runbook, input.input);
    if (!values.ok) throw wf.ApplicationFailure.nonRetryable(`invalid runbook input: ${values.faults.map((f) => `${f.pointer} ${f.message}`).join('; ')}`, 'InvalidInput');
    const about = { runbook: runbook.key, version: input.version };
    const data: RunbookData = { input: values.input, steps: {} };
    // Compensations of the steps started so far, each registered before its step runs.
    const undo: { step: RunbookStep; compensation: Compensation }[] = [];

    for (const step of runbook.steps) {
      if (!shouldRun(step, data)) {
        data.steps[step.id] = { outcome: 'skipped', attempts: 0 };
        run.note({ stepKey: step.activityKey, event: 'runbook.step-skipped', data: { ...about, step: step.id, reason: 'its condition is false' } });
        continue;
      }
      if (step.compensation) undo.push({ step, compensation: step.compensation });
      for (let attempts = 1; ; attempts++) {
        const params = resolveParams(step.params, data);
        const result = await runStep(run, step.activityKey, {
          title: step.title ?? `${runbook.title}: ${step.id}`,
          asset: resolveAsset(step, data),
          // Each step, and each retry of it, acts under its own idempotency key: a retry acts again.
          occurrence: attempts > 1 ? `${step.id}#${attempts}` : step.id,
          params,
          details: { ...about, step: step.id, attempt: attempts, params },
        });
        data.steps[step.id] = { outcome: result.outcome, output: result.output, reason: result.reason, attempts };
        if (result.outcome === 'done') break;
        const decision = afterFailure(step.onFailure, attempts);
        if (decision.kind === 'retry') {
          run.note({ stepKey: step.activityKey, event: 'runbook.retry', data: { ...about, step: step.id, attempt: attempts, outcome: result.outcome, reason: result.reason, delayMs: decision.delayMs } });
          await run.attest();
          await wf.sleep(decision.delayMs);
          continue;
        }
        const failure = `step ${step.id} (${step.activityKey}) ${result.outcome}${result.reason ? `: ${result.reason}` : ''}`;
        if (decision.kind === 'continue') {
          run.note({ stepKey: step.activityKey, event: 'runbook.step-failed-continued', data: { ...about, step: step.id, outcome: result.outcome, reason: result.reason } });
          break;
        }
        if (decision.kind === 'compensate') {
          const undone = await compensate(run, about, undo, data);
          throw wf.ApplicationFailure.nonRetryable(`${failure}; compensated: ${undone.join(', ') || 'nothing'}`, 'RunbookStepFailed');
        }
        throw wf.ApplicationFailure.nonRetryable(failure, 'RunbookStepFailed');
      }
    }
    return { ...about, steps: data.steps };
  });
}

/** The pinned definition, checked again: CLI or schedule starts do not pass through the API. */
function checkedRunbook(input: RunbookStart): Runbook {
  if (!input.definition) throw wf.ApplicationFailure.nonRetryable(`runbook ${input.runbook} is not registered${input.version ? ` at version ${input.version}` : ''}`, 'RunbookMissing');
  const checked = validateRunbook(input.definition, Object.keys(SERVICES));
  if (!checked.ok) throw wf.ApplicationFailure.nonRetryable(`runbook ${input.runbook} is malformed: ${checked.faults.map((f) => `${f.pointer} ${f.message}`).join('; ')}`, 'InvalidRunbook');
  return checked.runbook;
}

/** Runs the registered compensations in reverse order; one that fails is journaled and the others still run. */
async function compensate(run: ProcessRun, about: { runbook: string; version?: number }, undo: { step: RunbookStep; compensation: Compensation }[], data: RunbookData): Promise<string[]> {
  const undone: string[] = [];
  run.note({ event: 'runbook.compensating', data: { ...about, steps: [...undo].reverse().map((u) => u.step.id) } });
  for (const { step, compensation } of [...undo].reverse()) {
    const params = resolveParams(compensation.params, data);
    const result = await runStep(run, compensation.activityKey, {
      title: compensation.title ?? `Undo ${step.id}`,
      asset: resolveAsset(step, data),
      params,
      details: { ...about, compensates: step.id, params },
    });
    if (result.outcome === 'done') undone.push(step.id);
    else run.note({ stepKey: compensation.activityKey, event: 'runbook.compensation-failed', data: { ...about, step: step.id, outcome: result.outcome, reason: result.reason } });
  }
  return undone;
}

/**
 * The API pins a run's runbook version when it starts it; a schedule names the runbook only,
 * so the run pins the version in force when it starts (recorded in its history, so a replay
 * and a later version change nothing).
 */
async function pinnedStart(start: ProcessStart<RunbookStart>): Promise<ProcessStart<RunbookStart>> {
  const given = RunbookStart.safeParse(start.input);
  if (!given.success || given.data.definition !== undefined) return start;
  const pinned = await runbookReader.pinRunbook({ runbook: given.data.runbook, version: given.data.version });
  if (!pinned) return start; // validated below: the run fails saying the runbook is unknown
  return { ...start, input: { ...given.data, version: pinned.version, definition: pinned.definition as Runbook } };
}
