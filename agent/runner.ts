// A party agent (docs/ARCHITECTURE.md "Agents"): long-polls the API for its party's jobs, runs only
// actions of its own configuration (argv, never a shell), heartbeats while one runs and
// posts the result. On stop it takes no new job and lets running ones finish within a
// grace period; a job left behind stops heartbeating and the engine offers it again.
import { setTimeout as sleep } from 'node:timers/promises';
import { durationMs } from '../domain/actions';
import { runAction, unknownActionFailure, type ActionLog } from '../activities/action-runner';
import { AgentApiError, createAgentApi, type AgentApi } from './client';
import type { AgentSettings } from './config';
import { jsonBytes, RESULT_OUTPUT_LIMIT_BYTES, type AgentJob, type AgentResult } from './protocol';

export interface AgentLog extends ActionLog {
  error(fields: Record<string, unknown>, message: string): void;
  debug(fields: Record<string, unknown>, message: string): void;
}

export interface PartyAgentOptions {
  log: AgentLog;
  fetch?: typeof fetch;
  /** Where programs get PATH and HOME (default: process.env). */
  env?: Readonly<Record<string, string | undefined>>;
}

export interface PartyAgent {
  /** Resolves once stopped. */
  readonly done: Promise<void>;
  /** Jobs running now. */
  readonly running: number;
  /** Takes no new job; running ones get `graceMs` (default: the configured grace) before they are left. */
  stop(graceMs?: number): Promise<void>;
}

interface RunningJob {
  job: AgentJob;
  finished: Promise<void>;
  /** Stops the action and any result posting: the job is left to the engine. */
  leave(): void;
}

export function startPartyAgent(settings: AgentSettings, options: PartyAgentOptions): PartyAgent {
  const { log } = options;
  const api = createAgentApi({ apiUrl: settings.apiUrl, key: settings.key, fetch: options.fetch });
  const polling = new AbortController();
  const running = new Set<RunningJob>();

  async function slot(index: number): Promise<void> {
    let pause = 500;
    while (!polling.signal.aborted) {
      let job: AgentJob | undefined;
      try {
        job = await api.poll(settings.pollWaitMs, polling.signal);
        pause = 500;
      } catch (error) {
        if (polling.signal.aborted) return;
        log.warn({ slot: index, err: describe(error) }, 'polling the API failed; retrying');
        if (error instanceof AgentApiError && (error.status === 401 || error.status === 403)) pause = 30_000;
        await sleep(pause, undefined, { signal: polling.signal }).catch(() => undefined);
        pause = Math.min(pause * 2, 30_000);
        continue;
      }
      if (job) await work(job);
    }
  }

  function work(job: AgentJob): Promise<void> {
    const action = new AbortController();
    const posting = new AbortController();
    let left = false;
    const entry: RunningJob = {
      job,
      finished: Promise.resolve(),
      leave() {
        left = true;
        action.abort();
        posting.abort();
      },
    };
    entry.finished = (async () => {
      const fields = { jobId: job.id, action: job.action, processId: job.processId, stepKey: job.stepKey };
      log.info(fields, 'job taken');
      const beats = heartbeat(api, job, settings.heartbeatEveryMs, action.signal, (why) => {
        left = true;
        log.warn({ ...fields, why }, 'job stopped by the engine: leaving it');
        action.abort();
      }, log);
      const result = await execute(job, action.signal);
      action.abort(); // stops the heartbeats
      await beats;
      if (left) return;
      const outcome = await api.postResult(job.id, result, {
        signal: posting.signal,
        onRetry: (attempt, error) => log.warn({ ...fields, attempt, err: describe(error) }, 'posting the result failed; retrying'),
      }).catch((error: unknown) => {
        log.error({ ...fields, err: describe(error) }, 'the result could not be posted: the engine will offer the job again');
        return undefined;
      });
      if (outcome === 'refused') log.warn(fields, 'the API refused the result: the step has moved on');
      else if (outcome === 'recorded') log.info({ ...fields, ok: result.ok }, 'result posted');
    })().finally(() => running.delete(entry));
    running.add(entry);
    return entry.finished;
  }

  async function execute(job: AgentJob, signal: AbortSignal): Promise<AgentResult> {
    const def = Object.hasOwn(settings.actions, job.action) ? settings.actions[job.action] : undefined;
    if (!def) return { ok: false, reason: unknownActionFailure(job.action).reason, retryable: false };
    const outcome = await runAction(job.action, def, job.params, {
      idempotencyKey: job.idempotencyKey, log, configDir: settings.configDir, signal, env: options.env,
    });
    if (!outcome.ok) return { ok: false, reason: outcome.reason, retryable: outcome.retryable };
    if (jsonBytes(outcome.output) > RESULT_OUTPUT_LIMIT_BYTES) {
      return { ok: false, reason: `output over limit: more than ${RESULT_OUTPUT_LIMIT_BYTES} bytes of JSON`, retryable: false };
    }
    return { ok: true, output: outcome.output ?? null };
  }

  const done = Promise.all(Array.from({ length: settings.concurrency }, (_, i) => slot(i))).then(async () => {
    // Polling stopped: wait for what runs (stop() leaves it after the grace period).
    while (running.size > 0) await Promise.all([...running].map((r) => r.finished));
  });

  let stopping: Promise<void> | undefined;
  return {
    done,
    get running() {
      return running.size;
    },
    stop(graceMs = settings.shutdownGraceMs) {
      stopping ??= (async () => {
        polling.abort();
        const all = Promise.all([...running].map((r) => r.finished));
        const timer = sleep(graceMs, 'timeout' as const);
        if ((await Promise.race([all.then(() => 'done' as const), timer])) === 'timeout') {
          for (const r of running) {
            log.warn({ jobId: r.job.id }, 'shutdown grace period over: leaving the job to the engine');
            r.leave();
          }
        }
        await done;
      })();
      return stopping;
    },
  };
}

/** Heartbeats until `signal` aborts; calls `stop` when the engine no longer wants this run. */
async function heartbeat(api: AgentApi, job: AgentJob, configuredMs: number, signal: AbortSignal, stop: (why: string) => void, log: AgentLog): Promise<void> {
  const askedMs = safeDuration(job.heartbeatEvery) ?? configuredMs;
  const everyMs = Math.max(200, Math.min(configuredMs, askedMs));
  for (;;) {
    try {
      await sleep(everyMs, undefined, { signal });
    } catch {
      return;
    }
    try {
      const answer = await api.heartbeat(job.id);
      if (signal.aborted) return;
      if (answer === 'stop') return stop('the job is no longer this agent\'s');
      if (answer === 'cancel-requested') return stop('the process asked the step to stop');
    } catch (error) {
      log.debug({ jobId: job.id, err: describe(error) }, 'heartbeat not relayed; trying again');
    }
  }
}

function safeDuration(text: string): number | undefined {
  try {
    return durationMs(text);
  } catch {
    return undefined;
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause as NodeJS.ErrnoException | undefined;
    return cause?.code ? `${error.message} (${cause.code})` : error.message;
  }
  return String(error);
}
