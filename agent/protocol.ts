// The wire protocol between party agents and the API (`/v1/agent/jobs`), shared by both
// sides so the limits cannot drift. Plain types and constants: no I/O.

/** The largest result output an agent may post, as UTF-8 JSON: larger is refused with 413. */
export const RESULT_OUTPUT_LIMIT_BYTES = 64 * 1024;
/** The longest reason of a failure report. */
export const RESULT_REASON_MAX_LENGTH = 4000;
/** The longest long-poll a request may ask for, in seconds. */
export const MAX_POLL_WAIT_SECONDS = 60;

/** A job as an agent receives it. */
export interface AgentJob {
  id: string;
  action: string;
  params: Record<string, unknown>;
  idempotencyKey: string;
  processId: string;
  stepKey: string;
  /** ISO 8601 duration: heartbeat at least this often, or the engine offers the job again. */
  heartbeatEvery: string;
}

export type AgentResult = { ok: true; output: unknown } | { ok: false; reason: string; retryable?: boolean };

export interface HeartbeatAnswer {
  /** The engine asked the step to stop (the process is being cancelled): stop the action. */
  cancelRequested: boolean;
}

/** UTF-8 size of a value as JSON (undefined counts as null). */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value ?? null), 'utf8');
}

/** `PT1.5S` for 1500 ms. */
export function isoSeconds(ms: number): string {
  return `PT${Number((Math.max(1, Math.round(ms)) / 1000).toFixed(3))}S`;
}
