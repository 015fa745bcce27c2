// The agent's side of the HTTP protocol (agent/protocol.ts): long poll, heartbeat, result.
// Network errors and 5xx are transient; 404/409 mean "this job is not yours any more".
import { setTimeout as sleep } from 'node:timers/promises';
import type { AgentJob, AgentResult, HeartbeatAnswer } from './protocol';

export class AgentApiError extends Error {
  constructor(readonly status: number, detail: string) {
    super(`HTTP ${status}: ${detail}`);
    this.name = 'AgentApiError';
  }

  get transient(): boolean {
    return this.status >= 500 || this.status === 429 || this.status === 408;
  }
}

export type HeartbeatOutcome = 'ok' | 'cancel-requested' | 'stop';
export type PostOutcome = 'recorded' | 'refused';

export interface AgentApiOptions {
  apiUrl: string;
  key: string;
  fetch?: typeof fetch;
}

export interface PostRetry {
  /** Stops retrying (hard shutdown). */
  signal?: AbortSignal;
  /** Give up after this long (default 5 minutes): the engine re-offers the job after its heartbeat timeout. */
  giveUpAfterMs?: number;
  onRetry?: (attempt: number, error: unknown) => void;
}

export function createAgentApi(options: AgentApiOptions) {
  const doFetch = options.fetch ?? fetch;
  const base = options.apiUrl.replace(/\/+$/, '');

  async function call(method: string, path: string, body: unknown, signal?: AbortSignal): Promise<{ status: number; json: unknown }> {
    const response = await doFetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${options.key}`, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
    const text = await response.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = { detail: text.slice(0, 200) };
    }
    if (response.status >= 400) throw new AgentApiError(response.status, (json as { detail?: string } | undefined)?.detail ?? response.statusText);
    return { status: response.status, json };
  }

  const jobPath = (jobId: string, what: string) => `/v1/agent/jobs/${encodeURIComponent(jobId)}/${what}`;

  return {
    /** One long poll: a job taken for this agent, or undefined when none came in time. */
    async poll(waitMs: number, signal?: AbortSignal): Promise<AgentJob | undefined> {
      const { status, json } = await call('GET', `/v1/agent/jobs?wait=${Math.max(0, Math.floor(waitMs / 1000))}`, undefined, signal);
      return status === 200 ? (json as AgentJob) : undefined;
    },

    /** Relays a heartbeat; 'stop' when the job is no longer this agent's. Transient errors throw. */
    async heartbeat(jobId: string, details?: unknown): Promise<HeartbeatOutcome> {
      try {
        const { json } = await call('POST', jobPath(jobId, 'heartbeat'), details === undefined ? {} : { details }, AbortSignal.timeout(15_000));
        return (json as HeartbeatAnswer).cancelRequested ? 'cancel-requested' : 'ok';
      } catch (error) {
        if (error instanceof AgentApiError && (error.status === 404 || error.status === 409)) return 'stop';
        throw error;
      }
    },

    /** Posts the result, retrying network errors and 5xx with backoff; 'refused' when the API will never take it. */
    async postResult(jobId: string, result: AgentResult, retry: PostRetry = {}): Promise<PostOutcome> {
      const giveUpAt = Date.now() + (retry.giveUpAfterMs ?? 300_000);
      for (let attempt = 1, pause = 250; ; attempt++, pause = Math.min(pause * 2, 10_000)) {
        try {
          await call('POST', jobPath(jobId, 'result'), result, AbortSignal.timeout(30_000));
          return 'recorded';
        } catch (error) {
          const transient = !(error instanceof AgentApiError) || error.transient;
          if (!transient || retry.signal?.aborted || Date.now() + pause > giveUpAt) {
            if (transient) throw error;
            return 'refused';
          }
          retry.onRetry?.(attempt, error);
          try {
            await sleep(pause + Math.random() * pause * 0.2, undefined, retry.signal ? { signal: retry.signal } : {});
          } catch {
            throw error; // aborted while waiting
          }
        }
      }
    },
  };
}

export type AgentApi = ReturnType<typeof createAgentApi>;
