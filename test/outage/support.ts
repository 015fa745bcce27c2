// Shared by the outage tests: a Mandate started the way the launcher starts it, HTTP calls
// that time themselves, and onboarding processes driven to their end through the API.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import { loadConfig } from '../../config/app-config';
import { startMandate, type Mandate } from '../../scripts/mandate';
import { newCodecKeySpec } from '../../temporal/codec';
import { taskQueueFor } from '../support/temporal';
import { silentLog, testEngineConfig } from '../support/harness';

export interface Answer {
  status: number;
  ms: number;
  type: string;
  retryAfter: string | null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers of many shapes
  body: Record<string, any>;
}

export interface OutageMandate {
  mandate: Mandate;
  directoryFile: string;
  call(user: string | undefined, method: string, url: string, body?: unknown): Promise<Answer>;
}

/** Mandate with role all (API, worker, outbox) on `databaseUrl` and `temporalAddress`; no party agents. */
export async function startOutageMandate(opts: { databaseUrl: string; temporalAddress: string; testFile: string }): Promise<OutageMandate> {
  const engine = await testEngineConfig();
  const config = loadConfig({
    DATABASE_URL: opts.databaseUrl,
    TEMPORAL_ADDRESS: opts.temporalAddress,
    PORT: '0',
    MANDATE_DATA_DIR: await mkdtemp(path.join(tmpdir(), 'mandate-outage-')),
    MANDATE_TASK_QUEUE: taskQueueFor(opts.testFile),
    MANDATE_ENGINE_CONFIG: engine.file,
    MANDATE_CODEC_KEYS: newCodecKeySpec('outage'),
    MANDATE_START_AGENTS: 'false',
    LOG_LEVEL: 'silent',
  });
  const mandate = await startMandate({ config, log: silentLog, workflowBundlePath: inject('workflowBundlePath') });
  const keys = new Map(mandate.exampleKeys.map((k) => [k.userId, k.key]));
  const call = async (user: string | undefined, method: string, url: string, body?: unknown): Promise<Answer> => {
    const started = Date.now();
    const res = await fetch(`${mandate.apiUrl}${url}`, {
      method,
      headers: { ...(user ? { authorization: `Bearer ${keys.get(user)}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      // Nothing the API does may take this long: a hang fails the test instead of stalling it.
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    return {
      status: res.status,
      ms: Date.now() - started,
      type: res.headers.get('content-type') ?? '',
      retryAfter: res.headers.get('retry-after'),
      body: text ? (JSON.parse(text) as Answer['body']) : {},
    };
  };
  return { mandate, directoryFile: engine.directoryFile, call };
}

export function onboardingOf(n: string) {
  return {
    type: 'employee-onboarding',
    businessKey: `emp-${n}`,
    input: {
      employee: { firstName: 'Ada', lastName: `Outage${n}`, email: `ada.${n}@martin.example`, department: 'R&D', startDate: '2027-03-01' },
      privilegedGroups: ['erp-admins'],
      laptop: { model: 'T14', shipTo: 'Lyon HQ' },
    },
  };
}

export const processIdOf = (n: string) => `mandate:ctr-martin-2027:employee-onboarding:emp-${n}`;
export const usernameOf = (n: string) => `ada.outage${n}`;

/** Who completes each human task of an onboarding, and with what. */
export const HUMAN_STEPS: Record<string, { user: string; body: unknown }> = {
  'iam.grant-privileged': { user: 'u-dsi-paul', body: { decision: 'approve' } },
  'equipment.ship-laptop': { user: 'u-sam', body: { payload: { trackingNumber: 'COLIS-0001' } } },
  'onboarding.confirm': { user: 'u-marc', body: {} },
};

/** What every completed onboarding's journal says was done, by whom, in order. */
export const EXECUTED = [
  ['hr.request-account', 'martin', 'user:u-hr-lea'],
  ['iam.create-accounts', 'nuvola', 'engine:create-directory-account'],
  ['iam.grant-privileged', 'martin', 'user:u-dsi-paul'],
  ['iam.grant-privileged', 'nuvola', 'engine:grant-group'],
  ['equipment.ship-laptop', 'pc-logistique', 'user:u-sam'],
  ['onboarding.confirm', 'nuvola', 'user:u-marc'],
];

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Completes the open human tasks of the processes until each has ended, the way a careful
 * client does: a 503 is retried after its Retry-After, a 202 is left to the reconciler, a 409
 * after a 503 or a 202 means an earlier attempt got through. Returns each process's status.
 */
export async function driveToEnd(m: OutageMandate, numbers: string[], timeoutMs: number): Promise<Record<string, string>> {
  const deadline = Date.now() + timeoutMs;
  const ended: Record<string, string> = {};
  while (Object.keys(ended).length < numbers.length && Date.now() < deadline) {
    for (const n of numbers) {
      if (ended[n]) continue;
      const process = await m.call('u-hr-lea', 'GET', `/v1/processes/${encodeURIComponent(processIdOf(n))}`);
      if (process.status === 200 && process.body.status !== 'running') {
        ended[n] = process.body.status as string;
        continue;
      }
      for (const [stepKey, who] of Object.entries(HUMAN_STEPS)) {
        const inbox = await m.call(who.user, 'GET', `/v1/tasks?status=open&processId=${encodeURIComponent(processIdOf(n))}`);
        if (inbox.status !== 200) continue;
        for (const task of (inbox.body.items as { id: string; stepKey: string }[]).filter((t) => t.stepKey === stepKey)) {
          const done = await m.call(who.user, 'POST', `/v1/tasks/${task.id}/complete`, who.body);
          if (![200, 202, 409, 503].includes(done.status)) throw new Error(`completing ${stepKey} of ${n}: ${done.status} ${JSON.stringify(done.body)}`);
        }
      }
    }
    await sleep(250);
  }
  return ended;
}

export async function readDirectory(file: string): Promise<{ accounts: Record<string, { groups: string[] }>; effects: Record<string, unknown> }> {
  return JSON.parse(await readFile(file, 'utf8')) as { accounts: Record<string, { groups: string[] }>; effects: Record<string, unknown> };
}
