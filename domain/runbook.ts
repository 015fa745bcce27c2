// Declarative runbooks (docs/ARCHITECTURE.md "Processes (catalogue)"): operators write them as data,
// one interpreter workflow runs them through runStep. This file holds their schema, the
// validation that refuses a malformed runbook with the JSON pointer of each fault, and the
// pure decisions the interpreter takes (run or skip a step, its parameters, what a failure leads to).
import { z } from 'zod';
import { ParamSpec, paramsSchemaFor } from './actions';
import { parseDuration } from './duration';
import { ActivityKey, Slug } from './ids';
import { checkLogic, evaluate, pointerOf, truthy, type Scope } from './runbook-logic';

const StepId = z.string().regex(/^[a-z][a-z0-9-]{0,63}$/, 'a step id is lower-case letters, digits and -, starting with a letter');
const ParamName = z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, 'a parameter name is a letter then letters, digits or _');
/** A JSONLogic expression or a literal; checked by validateRunbook (operators, references). */
const Expression = z.json();

const MAX_BACKOFF_MS = 24 * 3_600_000;
const Backoff = z.string().superRefine((s, ctx) => {
  try {
    const d = parseDuration(s);
    if (d.kind !== 'elapsed' || d.ms < 1 || d.ms > MAX_BACKOFF_MS) ctx.addIssue({ code: 'custom', message: 'a backoff is elapsed time between PT1S and P1D, e.g. PT30S' });
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});

const FinalFailure = z.enum(['stop', 'continue', 'compensate']);

export const RetryPolicy = z.strictObject({
  /** Attempts after the first one. */
  max: z.int().min(1).max(20),
  /** Wait before the first retry; each next wait is `factor` times longer (capped at a day). */
  backoff: Backoff,
  factor: z.number().min(1).max(10).default(2),
  /** What the step's last failure leads to. */
  then: FinalFailure.default('stop'),
});
export type RetryPolicy = z.infer<typeof RetryPolicy>;

export const OnFailure = z.union([FinalFailure, z.strictObject({ retry: RetryPolicy })]);
export type OnFailure = z.infer<typeof OnFailure>;

export const Compensation = z.strictObject({
  activityKey: ActivityKey,
  title: z.string().min(1).max(200).optional(),
  params: z.record(ParamName, Expression).default({}),
});
export type Compensation = z.infer<typeof Compensation>;

export const RunbookStep = z.strictObject({
  id: StepId,
  title: z.string().min(1).max(200).optional(),
  /** The matrix row that routes the step: R does it, by the action the contract names. */
  activityKey: ActivityKey,
  /** For readers only: the action comes from the contract row, the runbook gives parameters. */
  action: z.string().max(64).optional(),
  /** The asset the step acts on (selects scoped rows); may be an expression. */
  asset: Expression.optional(),
  params: z.record(ParamName, Expression).default({}),
  /** JSONLogic on the input and earlier steps; false skips the step. */
  when: Expression.optional(),
  onFailure: OnFailure.default('stop'),
  /** Undoes the step; registered before the step runs, run when a later failure compensates. */
  compensation: Compensation.optional(),
});
export type RunbookStep = z.infer<typeof RunbookStep>;

export const Runbook = z.strictObject({
  key: Slug,
  title: z.string().min(1).max(200),
  description: z.string().max(2000).optional(),
  /** The subscribed service the runbook belongs to (a catalogue service, checked by validateRunbook): a contract without it does not run it. */
  service: Slug,
  input: z.record(ParamName, ParamSpec).default({}),
  steps: z.array(RunbookStep).min(1).max(50),
});
export type Runbook = z.infer<typeof Runbook>;

/** What a start of the `runbook` process carries; the API adds the pinned definition. */
export const RunbookStart = z.strictObject({
  runbook: Slug,
  version: z.int().min(1).optional(),
  input: z.record(z.string(), z.json()).default({}),
  definition: Runbook.optional(),
});
export type RunbookStart = z.infer<typeof RunbookStart>;

export interface RunbookFault {
  /** JSON pointer into the runbook document, e.g. `/steps/2/when/==/0/var`. */
  pointer: string;
  message: string;
}

export type RunbookValidation = { ok: true; runbook: Runbook } | { ok: false; faults: RunbookFault[] };

/**
 * Parses and checks a runbook: schema, its service among `services` (the catalogue's: passed
 * in, as the catalogue itself imports this file), unique ids and activity keys, conditions,
 * references, compensations.
 */
export function validateRunbook(raw: unknown, services: readonly string[]): RunbookValidation {
  const parsed = Runbook.safeParse(raw);
  if (!parsed.success) {
    return { ok: false, faults: parsed.error.issues.map((i) => ({ pointer: pointerOf(i.path.map((p) => (typeof p === 'symbol' ? String(p) : p))), message: i.message })) };
  }
  const runbook = parsed.data;
  const faults: RunbookFault[] = [];
  if (!services.includes(runbook.service)) faults.push({ pointer: '/service', message: `unknown service "${runbook.service}": expected one of ${services.join(', ')}` });
  const inputs = new Set(Object.keys(runbook.input));
  const seenIds = new Set<string>();
  const usedKeys = new Map<string, string>();
  let compensable = false;
  const expression = (value: unknown, at: (string | number)[], scope: Scope) => {
    for (const f of checkLogic(value, scope)) faults.push({ pointer: pointerOf(at) + f.pointer, message: f.message });
  };
  // One run uses an activity key once: the step's idempotency key is process + activity key.
  const useKey = (key: string, at: (string | number)[]) => {
    const first = usedKeys.get(key);
    if (first) faults.push({ pointer: pointerOf(at), message: `activity key "${key}" is already used at ${first}: each activity runs once per run (its actions' idempotency key is the process and the activity)` });
    else usedKeys.set(key, pointerOf(at));
  };
  runbook.steps.forEach((step, i) => {
    const at = ['steps', i];
    if (seenIds.has(step.id)) faults.push({ pointer: pointerOf([...at, 'id']), message: `duplicate step id "${step.id}"` });
    const earlier: Scope = { inputs, steps: new Set(seenIds) };
    useKey(step.activityKey, [...at, 'activityKey']);
    if (step.when !== undefined) {
      if (typeof step.when !== 'boolean' && (typeof step.when !== 'object' || step.when === null || Array.isArray(step.when))) {
        faults.push({ pointer: pointerOf([...at, 'when']), message: 'a condition is a JSONLogic operation, e.g. {"==": [{"var": "steps.check.outcome"}, "failed"]}' });
      } else expression(step.when, [...at, 'when'], earlier);
    }
    if (step.asset !== undefined) expression(step.asset, [...at, 'asset'], earlier);
    for (const [name, value] of Object.entries(step.params)) expression(value, [...at, 'params', name], earlier);
    if (step.compensation) {
      compensable = true;
      useKey(step.compensation.activityKey, [...at, 'compensation', 'activityKey']);
      // A compensation may read the step it undoes (its outcome, and output when it got that far).
      const withSelf: Scope = { inputs, steps: new Set([...seenIds, step.id]) };
      for (const [name, value] of Object.entries(step.compensation.params)) expression(value, [...at, 'compensation', 'params', name], withSelf);
    }
    const final = typeof step.onFailure === 'string' ? step.onFailure : step.onFailure.retry.then;
    if (final === 'compensate' && !compensable) {
      faults.push({ pointer: pointerOf([...at, 'onFailure', ...(typeof step.onFailure === 'string' ? [] : ['retry', 'then'])]), message: 'compensate needs a compensation declared on this step or an earlier one' });
    }
    seenIds.add(step.id);
  });
  return faults.length > 0 ? { ok: false, faults } : { ok: true, runbook };
}

/** Checks a run's input against the runbook's declared inputs; faults point into the input. */
export function validateRunbookInput(runbook: Pick<Runbook, 'input'>, value: unknown): { ok: true; input: Record<string, unknown> } | { ok: false; faults: RunbookFault[] } {
  const parsed = paramsSchemaFor({ params: runbook.input }).safeParse(value ?? {});
  if (parsed.success) return { ok: true, input: parsed.data };
  return { ok: false, faults: parsed.error.issues.map((i) => ({ pointer: pointerOf(i.path.map(String)), message: i.message })) };
}

/** Every matrix key a run may resolve: its steps and their compensations (coverage, contract slice). */
export function runbookActivityKeys(runbook: Pick<Runbook, 'steps'>): string[] {
  return [...new Set(runbook.steps.flatMap((s) => [s.activityKey, ...(s.compensation ? [s.compensation.activityKey] : [])]))];
}

// ---- What the interpreter decides, step by step ----

export type RunbookStepOutcome = 'done' | 'rejected' | 'expired' | 'failed' | 'skipped';

export interface RunbookStepRecord {
  outcome: RunbookStepOutcome;
  output?: unknown;
  reason?: string;
  attempts: number;
}

/** What conditions and parameters read: `input.*` and `steps.<id>.{outcome,output,reason,attempts}`. */
export interface RunbookData {
  input: Record<string, unknown>;
  steps: Record<string, RunbookStepRecord>;
}

export function shouldRun(step: Pick<RunbookStep, 'when'>, data: RunbookData): boolean {
  return step.when === undefined || truthy(evaluate(step.when, data));
}

/** Each parameter evaluated; a value that comes out null or undefined is left out (optional action params). */
export function resolveParams(params: Readonly<Record<string, unknown>>, data: RunbookData): Record<string, unknown> {
  const resolved: Record<string, unknown> = {};
  for (const [name, expression] of Object.entries(params)) {
    const value = evaluate(expression, data);
    if (value !== null && value !== undefined) resolved[name] = value;
  }
  return resolved;
}

export function resolveAsset(step: Pick<RunbookStep, 'asset'>, data: RunbookData): string | undefined {
  if (step.asset === undefined) return undefined;
  const value = evaluate(step.asset, data);
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export type FailureDecision = { kind: 'retry'; delayMs: number } | { kind: 'continue' } | { kind: 'compensate' } | { kind: 'stop' };

/** After `attempts` failed attempts of a step: retry after a delay, or its final answer. */
export function afterFailure(onFailure: OnFailure, attempts: number): FailureDecision {
  if (typeof onFailure === 'string') return { kind: onFailure };
  const { max, backoff, factor, then } = onFailure.retry;
  if (attempts > max) return { kind: then };
  const first = parseDuration(backoff);
  const base = first.kind === 'elapsed' ? first.ms : 1000;
  return { kind: 'retry', delayMs: Math.min(MAX_BACKOFF_MS, Math.round(base * factor ** (attempts - 1))) };
}
