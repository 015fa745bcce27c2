// The runner against real processes and a real local HTTP server.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAction, unknownActionFailure, type ActionLog, type ActionOutcome } from '../../activities/action-runner';
import { loadEngineConfig } from '../../config/engine-config';
import { ActionDefinition, ProgramAction, type HttpAction } from '../../domain/actions';

const config = loadEngineConfig(path.join(import.meta.dirname, '../../examples/engine.yaml'));
let workDir: string;

beforeAll(async () => {
  workDir = await mkdtemp(path.join(tmpdir(), 'mandate-actions-'));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

/** An example action whose data files go to this test's own directory. */
function exampleAction(key: string, env: Record<string, string>): ActionDefinition {
  const def = config.actions[key];
  if (!def) throw new Error(`examples/engine.yaml has no ${key}`);
  return { ...def, env };
}

function directoryFile(): string {
  return path.join(workDir, `directory-${randomUUID()}.json`);
}

function runExample(key: string, env: Record<string, string>, params: unknown, idempotencyKey: string, log?: ActionLog) {
  return runAction(key, exampleAction(key, env), params, { idempotencyKey, configDir: config.configDir, ...(log ? { log } : {}) });
}

function nodeAction(script: string, extra: Record<string, unknown> = {}): ProgramAction {
  return ProgramAction.parse({ program: 'node', args: ['-e', script], ...extra });
}

function runScript(script: string, extra: Record<string, unknown> = {}, options: { signal?: AbortSignal } = {}) {
  return runAction('script', nodeAction(script, extra), {}, { idempotencyKey: 'key-1', ...options });
}

/** Whether a process runs (a killed one may linger as a zombie until it is reaped). */
async function isRunning(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return !/^\S+ \(.*\) Z/s.test(stat);
  } catch {
    return false;
  }
}

function failureOf(outcome: ActionOutcome) {
  if (outcome.ok) throw new Error(`expected a failure, got ${JSON.stringify(outcome.output)}`);
  return outcome;
}

const ada = { username: 'ada.lovelace', displayName: 'Ada Lovelace', department: 'Engineering', email: 'ada@example.org' };

describe('the example directory action', () => {
  it('when an account is created, then the directory file holds it and the JSON result is the output', async () => {
    const file = directoryFile();
    const outcome = await runExample('create-directory-account', { MANDATE_DIRECTORY_FILE: file }, ada, 'onboard-1');
    expect(outcome).toMatchObject({ ok: true, output: { created: true, account: { ...ada, groups: [] } } });
    const stored = JSON.parse(await readFile(file, 'utf8')) as { accounts: Record<string, unknown> };
    expect(Object.keys(stored.accounts)).toEqual(['ada.lovelace']);
  });

  it('when the action is retried with the same idempotency key, then there is one account and the same output', async () => {
    const env = { MANDATE_DIRECTORY_FILE: directoryFile() };
    const first = await runExample('create-directory-account', env, ada, 'onboard-2');
    const again = await runExample('create-directory-account', env, ada, 'onboard-2');
    expect(first.ok && again.ok).toBe(true);
    expect(again.ok && again.output).toEqual(first.ok && first.output);
    const stored = JSON.parse(await readFile(env.MANDATE_DIRECTORY_FILE, 'utf8')) as { accounts: Record<string, unknown> };
    expect(Object.keys(stored.accounts)).toHaveLength(1);
  });

  it('when groups are granted twice, then the account has each once', async () => {
    const env = { MANDATE_DIRECTORY_FILE: directoryFile() };
    await runExample('create-directory-account', env, ada, 'onboard-3');
    const grant = await runExample('grant-group', env, { username: 'ada.lovelace', groups: ['engineers', 'admins'] }, 'grant-1');
    const second = await runExample('grant-group', env, { username: 'ada.lovelace', groups: ['engineers'] }, 'grant-2');
    expect(grant).toMatchObject({ ok: true, output: { granted: ['engineers', 'admins'], account: { groups: ['admins', 'engineers'] } } });
    expect(second).toMatchObject({ ok: true, output: { granted: [], account: { groups: ['admins', 'engineers'] } } });
  });

  it('when a display name holds shell syntax, then it is stored literally and nothing runs', async () => {
    const env = { MANDATE_DIRECTORY_FILE: directoryFile() };
    const marker = path.join(tmpdir(), `pwned-${randomUUID()}`);
    const displayName = `x; touch ${marker} $(touch ${marker}) \`touch ${marker}\` "'\n`;
    const outcome = await runExample('create-directory-account', env, { ...ada, displayName, department: '--help' }, 'onboard-4');
    expect(outcome).toMatchObject({ ok: true, output: { account: { displayName, department: '--help' } } });
    expect(existsSync(marker)).toBe(false);
  });

  it('when many runs write the directory at once, then no update is lost', async () => {
    const env = { MANDATE_DIRECTORY_FILE: directoryFile() };
    const names = Array.from({ length: 6 }, (_, i) => `user${i}`);
    const outcomes = await Promise.all(names.map((username) =>
      runExample('create-directory-account', env, { ...ada, username, email: undefined }, `onboard-${username}`)));
    expect(outcomes.every((outcome) => outcome.ok)).toBe(true);
    const stored = JSON.parse(await readFile(env.MANDATE_DIRECTORY_FILE, 'utf8')) as { accounts: Record<string, unknown> };
    expect(Object.keys(stored.accounts).sort()).toEqual(names);
  });

  it('when the script refuses its input (exit 65), then the failure is not retryable and says why', async () => {
    const env = { MANDATE_DIRECTORY_FILE: directoryFile() };
    const outcome = failureOf(await runExample('grant-group', env, { username: 'nobody', groups: ['engineers'] }, 'grant-3'));
    expect(outcome).toEqual({ ok: false, retryable: false, reason: 'exit code 65: no account nobody' });
  });

  it('when params are invalid, then nothing runs and the failure names the params, not their values', async () => {
    const env = { MANDATE_DIRECTORY_FILE: directoryFile() };
    const outcome = failureOf(await runExample('create-directory-account', env, { ...ada, username: 'Robert; DROP', shell: '/bin/sh' }, 'onboard-5'));
    expect(outcome.retryable).toBe(false);
    expect(outcome.reason).toContain('username');
    expect(outcome.reason).toContain('"shell"');
    expect(outcome.reason).not.toContain('Robert');
    expect(existsSync(env.MANDATE_DIRECTORY_FILE)).toBe(false);
  });

  it('when a report is published twice with the same key, then it is written once', async () => {
    const env = { MANDATE_REPORTS_DIR: path.join(workDir, 'reports') };
    const params = { contractId: 'acme-2025', period: '2025-03', kind: 'sla', title: 'SLA March', data: '{"attained":0.995}' };
    const first = await runExample('publish-report', env, params, 'report-1');
    const again = await runExample('publish-report', env, params, 'report-1');
    expect(first).toMatchObject({ ok: true, output: { published: true, report: { file: 'acme-2025/2025-03-sla.json' } } });
    expect(again).toMatchObject({ ok: true, output: { published: false } });
    const report = JSON.parse(await readFile(path.join(env.MANDATE_REPORTS_DIR, 'acme-2025/2025-03-sla.json'), 'utf8')) as unknown;
    expect(report).toMatchObject({ title: 'SLA March', data: { attained: 0.995 } });
  });

  it('when an action runs, then the log has its key, duration and outcome but no param value', async () => {
    const lines: Record<string, unknown>[] = [];
    const log: ActionLog = { info: (fields) => lines.push(fields), warn: (fields) => lines.push(fields) };
    const env = { MANDATE_DIRECTORY_FILE: directoryFile() };
    await runExample('create-directory-account', env, ada, 'onboard-6', log);
    await runExample('create-directory-account', env, { ...ada, displayName: 'Someone Else' }, 'onboard-7', log);
    expect(lines).toEqual([
      { action: 'create-directory-account', durationMs: expect.any(Number), outcome: 'ok' },
      { action: 'create-directory-account', durationMs: expect.any(Number), outcome: 'failed', failure: 'exit', retryable: false, exitCode: 65 },
    ]);
  });
});

describe('program actions', () => {
  it('when the program does not exist, then the failure is not retryable', async () => {
    const def = ProgramAction.parse({ program: `no-such-program-${randomUUID()}` });
    expect(failureOf(await runAction('missing', def, {}, { idempotencyKey: 'k' }))).toMatchObject({ retryable: false });
    const relative = ProgramAction.parse({ program: './bin/missing' });
    expect(failureOf(await runAction('missing', relative, {}, { idempotencyKey: 'k', configDir: workDir }))).toMatchObject({ retryable: false });
  });

  it('when a program exits 1, then the failure is retryable and carries the stderr tail', async () => {
    expect(await runScript('console.error("disk busy"); process.exit(1)'))
      .toEqual({ ok: false, retryable: true, reason: 'exit code 1: disk busy' });
  });

  it('when a program exits with a sysexits usage or data code, then it is not retried, except 75 (try later)', async () => {
    expect(failureOf(await runScript('process.exit(64)')).retryable).toBe(false);
    expect(failureOf(await runScript('process.exit(78)')).retryable).toBe(false);
    expect(failureOf(await runScript('process.exit(75)')).retryable).toBe(true);
  });

  it('when stdout is not JSON, then the output is its text', async () => {
    expect(await runScript('process.stdout.write("done")')).toMatchObject({ ok: true, output: { text: 'done' } });
  });

  it('when the program runs, then its environment is PATH, HOME, the configured env and the Mandate keys only', async () => {
    process.env.MANDATE_TEST_SECRET = 'must-not-leak';
    try {
      const outcome = await runScript('console.log(JSON.stringify(process.env))', { env: { REGION: 'eu' } });
      expect(outcome.ok && Object.keys(outcome.output as object).sort())
        .toEqual(['HOME', 'MANDATE_ACTION', 'MANDATE_IDEMPOTENCY_KEY', 'PATH', 'REGION'].filter((name) => name !== 'HOME' || process.env.HOME));
      expect(outcome).toMatchObject({ ok: true, output: { MANDATE_ACTION: 'script', MANDATE_IDEMPOTENCY_KEY: 'key-1', REGION: 'eu' } });
    } finally {
      delete process.env.MANDATE_TEST_SECRET;
    }
  });

  it('when a program outlives its timeout, then it and the processes it started are killed', async () => {
    const pidFile = path.join(workDir, `grandchild-${randomUUID()}`);
    const script = `const c = require("child_process").spawn("sleep", ["30"], { stdio: "ignore" });
      require("fs").writeFileSync(${JSON.stringify(pidFile)}, String(c.pid)); setInterval(() => {}, 1000);`;
    const started = performance.now();
    const outcome = await runScript(script, { timeout: 'PT1S' });
    expect(outcome).toEqual({ ok: false, retryable: true, reason: 'timed out after PT1S' });
    expect(performance.now() - started).toBeLessThan(5000);
    const grandchild = Number(await readFile(pidFile, 'utf8'));
    await expect.poll(() => isRunning(grandchild), { timeout: 2000 }).toBe(false);
  });

  it('when a program writes more than maxOutputBytes, then it fails with output over limit', async () => {
    const outcome = failureOf(await runScript('process.stdout.write("x".repeat(100000))', { maxOutputBytes: 1000 }));
    expect(outcome).toMatchObject({ retryable: false });
    expect(outcome.reason).toMatch(/^output over limit/);
  });

  it('when the caller cancels, then the program is killed and the failure says so', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    expect(await runScript('setInterval(() => {}, 1000)', {}, { signal: controller.signal }))
      .toEqual({ ok: false, retryable: true, reason: 'action cancelled' });
  });

  it('when an action key is not configured, then the failure is not retryable and says so', () => {
    expect(unknownActionFailure('wipe-disk'))
      .toEqual({ ok: false, retryable: false, reason: 'action "wipe-disk" is not defined in this runner\'s configuration' });
  });
});

type Received = { method: string, url: string, headers: IncomingMessage['headers'], body: string };

describe('HTTP actions', () => {
  let server: Server;
  let baseUrl: string;
  const received: Received[] = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        received.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
        const [status, body] = request.url?.startsWith('/status/')
          ? [Number(request.url.slice('/status/'.length)), '{"error":"nope"}']
          : request.url === '/big' ? [200, 'x'.repeat(10_000)]
            : request.url === '/slow' ? [0, ''] : [201, '{"ticket":"T-1"}'];
        if (status === 0) return; // never answers
        response.writeHead(status, { 'content-type': 'application/json' }).end(body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  function httpAction(url: string, extra: Record<string, unknown> = {}): HttpAction {
    return ActionDefinition.parse({
      http: { url: `${baseUrl}${url}`, method: 'POST', headers: { Authorization: 'Bearer ${env:ITSM_TOKEN}' } },
      params: { summary: { type: 'string' }, tags: { type: 'string[]', required: false } },
      ...extra,
    }) as HttpAction;
  }
  const env = { ITSM_TOKEN: 'secret-token' };

  it('when the call succeeds, then the params are the JSON body, with the idempotency key and resolved headers', async () => {
    const params = { summary: 'Disk full; $(reboot)', tags: ['a'] };
    const outcome = await runAction('open-ticket', httpAction('/tickets'), params, { idempotencyKey: 'step-9', env });
    expect(outcome).toMatchObject({ ok: true, output: { ticket: 'T-1' } });
    const request = received.at(-1)!;
    expect(request).toMatchObject({ method: 'POST', url: '/tickets' });
    expect(JSON.parse(request.body)).toEqual(params);
    expect(request.headers).toMatchObject({ 'idempotency-key': 'step-9', authorization: 'Bearer secret-token', 'content-type': 'application/json' });
  });

  it('when the method is GET, then the params travel as query parameters', async () => {
    const def = ActionDefinition.parse({ http: { url: `${baseUrl}/search`, method: 'GET' }, params: { q: { type: 'string' } } });
    await runAction('search', def, { q: 'a b&c' }, { idempotencyKey: 'k' });
    expect(received.at(-1)).toMatchObject({ method: 'GET', url: '/search?q=a+b%26c', body: '' });
  });

  it('when the server answers 5xx, then the failure is retryable; 4xx is not', async () => {
    expect(failureOf(await runAction('t', httpAction('/status/500'), { summary: 's' }, { idempotencyKey: 'k', env })))
      .toEqual({ ok: false, retryable: true, reason: 'HTTP 500: {"error":"nope"}' });
    expect(failureOf(await runAction('t', httpAction('/status/400'), { summary: 's' }, { idempotencyKey: 'k', env })).retryable).toBe(false);
    expect(failureOf(await runAction('t', httpAction('/status/429'), { summary: 's' }, { idempotencyKey: 'k', env })).retryable).toBe(true);
  });

  it('when a header names an unset environment variable, then nothing is sent and the failure is not retryable', async () => {
    const before = received.length;
    const outcome = failureOf(await runAction('t', httpAction('/tickets'), { summary: 's' }, { idempotencyKey: 'k', env: {} }));
    expect(outcome).toEqual({ ok: false, retryable: false, reason: 'header Authorization refers to unset environment variable(s) ITSM_TOKEN' });
    expect(received).toHaveLength(before);
  });

  it('when the body is over the limit, then the call fails with output over limit', async () => {
    const outcome = failureOf(await runAction('t', httpAction('/big', { maxOutputBytes: 1000 }), { summary: 's' }, { idempotencyKey: 'k', env }));
    expect(outcome.reason).toMatch(/^output over limit/);
  });

  it('when the server does not answer in time or cannot be reached, then the failure is retryable', async () => {
    expect(failureOf(await runAction('t', httpAction('/slow', { timeout: 'PT0.5S' }), { summary: 's' }, { idempotencyKey: 'k', env })))
      .toEqual({ ok: false, retryable: true, reason: 'timed out after PT0.5S' });
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const def = ActionDefinition.parse({ http: { url: `http://127.0.0.1:${port}/`, method: 'POST' } });
    expect(failureOf(await runAction('t', def, {}, { idempotencyKey: 'k' }))).toMatchObject({ retryable: true, reason: 'request failed: ECONNREFUSED' });
  });
});
