// Runs one configured action: a program with an argument array (never a shell) or an
// HTTP call. Shared by the engine's workers (engine actions) and party agents.
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import path from 'node:path';
import { findUnstorable, storableText } from '../db/storable';
import {
  buildArgv, durationMs, isProgramAction, paramsSchemaFor, resolveEnvReferences,
  type ActionDefinition, type ActionParams, type HttpAction, type ProgramAction,
} from '../domain/actions';

export type ActionSuccess = { ok: true, output: unknown, durationMs: number };
export type ActionFailure = { ok: false, retryable: boolean, reason: string };
export type ActionOutcome = ActionSuccess | ActionFailure;

/** The pino-compatible subset the runner logs to. */
export interface ActionLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface RunActionOptions {
  /** Same key on a retry: the program gets MANDATE_IDEMPOTENCY_KEY, an HTTP call the Idempotency-Key header. */
  idempotencyKey: string;
  log?: ActionLog;
  /** Directory of the configuration file: relative program paths resolve here and programs run here. */
  configDir?: string;
  signal?: AbortSignal;
  /** Where PATH, HOME and `${env:NAME}` header values come from (default: process.env). */
  env?: Readonly<Record<string, string | undefined>>;
}

// Why a run failed, for logs: a category, never a parameter value or program output.
type FailureKind = 'invalid-params' | 'invalid-key' | 'not-found' | 'exit' | 'signal' | 'timeout'
  | 'output-limit' | 'unstorable-output' | 'cancelled' | 'config' | 'http-status' | 'network';
type Failed = ActionFailure & { kind: FailureKind, detail?: Record<string, unknown> };

const STDERR_TAIL_CHARS = 1000;
const IDEMPOTENCY_KEY = /^[\x20-\x7e]{1,512}$/;

function failed(kind: FailureKind, retryable: boolean, reason: string, detail?: Record<string, unknown>): Failed {
  return { ok: false, retryable, reason, kind, ...(detail ? { detail } : {}) };
}

/** The answer for an action key this runner's configuration does not define. */
export function unknownActionFailure(key: string): ActionFailure {
  return { ok: false, retryable: false, reason: `action "${key}" is not defined in this runner's configuration` };
}

/** Validates the params, runs the action once and says whether a failure is worth retrying. */
export async function runAction(
  key: string, def: ActionDefinition, rawParams: unknown, options: RunActionOptions,
): Promise<ActionOutcome> {
  const started = performance.now();
  const outcome = storableOutcome(await attempt(key, def, rawParams, options));
  const elapsed = Math.round(performance.now() - started);
  if (outcome.ok) {
    options.log?.info({ action: key, durationMs: elapsed, outcome: 'ok' }, 'action succeeded');
    return { ok: true, output: outcome.output, durationMs: elapsed };
  }
  options.log?.warn({ action: key, durationMs: elapsed, outcome: 'failed', failure: outcome.kind, retryable: outcome.retryable, ...outcome.detail }, 'action failed');
  // The reason is journaled: a NUL from a program's stderr or an HTTP body must not break that write.
  return { ok: false, retryable: outcome.retryable, reason: storableText(outcome.reason) };
}

/**
 * An output PostgreSQL cannot store (NUL, an unpaired surrogate) fails the action for good:
 * the same program would print it again, and the step's journal write would fail every time.
 */
function storableOutcome(outcome: { ok: true, output: unknown } | Failed): { ok: true, output: unknown } | Failed {
  if (!outcome.ok) return outcome;
  const issue = findUnstorable(outcome.output, { maxIssues: 1 })[0];
  if (!issue) return outcome;
  const where = ['output', ...issue.path].join('.');
  return failed('unstorable-output', false, `unusable output: ${where} ${issue.message} (PostgreSQL refuses NUL and unpaired surrogates)`);
}

async function attempt(key: string, def: ActionDefinition, rawParams: unknown, options: RunActionOptions): Promise<{ ok: true, output: unknown } | Failed> {
  if (!IDEMPOTENCY_KEY.test(options.idempotencyKey)) {
    return failed('invalid-key', false, 'idempotency key must be 1 to 512 printable ASCII characters');
  }
  const parsed = paramsSchemaFor(def).safeParse(rawParams ?? {});
  if (!parsed.success) {
    // Paths and messages only: zod's messages do not repeat the offending value.
    const issues = parsed.error.issues.map((issue) => `${issue.path.length ? issue.path.join('.') : '(params)'}: ${issue.message}`);
    return failed('invalid-params', false, `invalid params: ${issues.join('; ')}`);
  }
  if (options.signal?.aborted) return failed('cancelled', true, 'action cancelled before it started');
  return isProgramAction(def)
    ? runProgram(key, def, parsed.data, options)
    : runHttp(def, parsed.data, options);
}

function parseOutput(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return { text };
  }
}

async function isExecutableFile(candidate: string): Promise<boolean> {
  try {
    await access(candidate, constants.X_OK);
    return (await stat(candidate)).isFile();
  } catch {
    return false;
  }
}

/** Absolute path of a configured program: `node` is this Node; a bare name is looked up on PATH. */
export async function resolveProgram(program: string, configDir: string, searchPath: string | undefined): Promise<string | undefined> {
  if (program === 'node') return process.execPath;
  if (program.includes('/')) {
    const candidate = path.resolve(configDir, program);
    return (await isExecutableFile(candidate)) ? candidate : undefined;
  }
  for (const dir of (searchPath ?? '').split(path.delimiter)) {
    if (!path.isAbsolute(dir)) continue; // a relative PATH entry would depend on the cwd
    const candidate = path.join(dir, program);
    if (await isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

function programEnv(key: string, def: ProgramAction, options: RunActionOptions): Record<string, string> {
  const from = options.env ?? process.env;
  const minimal: Record<string, string> = {};
  for (const name of ['PATH', 'HOME'] as const) {
    const value = from[name];
    if (value !== undefined) minimal[name] = value;
  }
  return { ...minimal, ...def.env, MANDATE_IDEMPOTENCY_KEY: options.idempotencyKey, MANDATE_ACTION: key };
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL'); // detached: the child leads its own process group
  } catch {
    // already gone
  }
}

async function runProgram(key: string, def: ProgramAction, params: ActionParams, options: RunActionOptions): Promise<{ ok: true, output: unknown } | Failed> {
  const cwd = options.configDir ?? process.cwd();
  const env = programEnv(key, def, options);
  const program = await resolveProgram(def.program, cwd, env.PATH);
  if (!program) return failed('not-found', false, `program "${def.program}" was not found or is not executable`);

  const child = spawn(program, buildArgv(def, params), {
    shell: false, cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true,
  });
  const limit = def.maxOutputBytes;
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  let stdoutBytes = 0;
  let stderrBytes = 0;
  let stopped: Failed | undefined;
  const stop = (why: Failed) => {
    stopped ??= why;
    killGroup(child.pid);
  };

  child.stdout.on('data', (chunk: Buffer) => {
    stdoutBytes += chunk.length;
    if (stdoutBytes > limit) stop(failed('output-limit', false, `output over limit: stdout exceeded ${limit} bytes`));
    else stdout.push(chunk);
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderrBytes += chunk.length;
    if (stderrBytes > limit) stop(failed('output-limit', false, `output over limit: stderr exceeded ${limit} bytes`));
    else stderr.push(chunk);
  });
  const timer = setTimeout(() => stop(failed('timeout', true, `timed out after ${def.timeout}`)), durationMs(def.timeout));
  const onAbort = () => stop(failed('cancelled', true, 'action cancelled'));
  options.signal?.addEventListener('abort', onAbort, { once: true });

  const ended = await new Promise<{ code: number | null, signal: NodeJS.Signals | null } | { error: NodeJS.ErrnoException }>((resolve) => {
    child.once('error', (error) => resolve({ error }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  }).finally(() => {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  });
  // A grandchild left in the group would keep running after its parent exits.
  killGroup(child.pid);

  if (stopped) return stopped;
  if ('error' in ended) {
    const missing = ended.error.code === 'ENOENT' || ended.error.code === 'EACCES';
    return failed(missing ? 'not-found' : 'exit', !missing, `program "${def.program}" could not start: ${ended.error.code ?? ended.error.message}`);
  }
  const errorTail = Buffer.concat(stderr).toString('utf8').trim().slice(-STDERR_TAIL_CHARS);
  if (ended.code === 0) return { ok: true, output: parseOutput(Buffer.concat(stdout).toString('utf8')) };
  if (ended.code === null) {
    return failed('signal', true, `killed by ${ended.signal ?? 'a signal'}${errorTail ? `: ${errorTail}` : ''}`, { signal: ended.signal });
  }
  // sysexits 64–78 (usage, data, config errors): the same input would fail again;
  // 75 (EX_TEMPFAIL) alone says "try again later".
  const retryable = ended.code < 64 || ended.code > 78 || ended.code === 75;
  return failed('exit', retryable, `exit code ${ended.code}${errorTail ? `: ${errorTail}` : ''}`, { exitCode: ended.code });
}

function requestUrl(def: HttpAction, params: ActionParams): URL {
  const url = new URL(def.http.url);
  if (def.http.method !== 'GET') return url;
  // fetch sends no body with GET: the params travel as query parameters instead.
  for (const [name, value] of Object.entries(params)) {
    for (const item of Array.isArray(value) ? value : [value]) url.searchParams.append(name, String(item));
  }
  return url;
}

function requestHeaders(def: HttpAction, options: RunActionOptions): Headers | Failed {
  const headers = new Headers();
  for (const [name, template] of Object.entries(def.http.headers ?? {})) {
    const resolved = resolveEnvReferences(template, options.env ?? process.env);
    if (!resolved.ok) return failed('config', false, `header ${name} refers to unset environment variable(s) ${resolved.missing.join(', ')}`);
    headers.set(name, resolved.value);
  }
  headers.set('Idempotency-Key', options.idempotencyKey);
  headers.set('Accept', 'application/json');
  if (def.http.method !== 'GET') headers.set('Content-Type', 'application/json');
  return headers;
}

async function readCapped(response: Response, limit: number): Promise<string | undefined> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const RETRYABLE_STATUS = new Set([408, 425, 429]);

async function runHttp(def: HttpAction, params: ActionParams, options: RunActionOptions): Promise<{ ok: true, output: unknown } | Failed> {
  const headers = requestHeaders(def, options);
  if (!(headers instanceof Headers)) return headers;
  const timeout = AbortSignal.timeout(durationMs(def.timeout));
  const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
  const { method } = def.http;
  try {
    const response = await fetch(requestUrl(def, params), {
      method, headers, signal,
      body: method === 'GET' ? undefined : JSON.stringify(params),
      // A redirect could carry the headers elsewhere: the configured URL is the only target.
      redirect: 'manual',
    });
    const text = await readCapped(response, def.maxOutputBytes);
    if (text === undefined) return failed('output-limit', false, `output over limit: response body exceeded ${def.maxOutputBytes} bytes`, { status: response.status });
    if (response.ok) return { ok: true, output: parseOutput(text) };
    const status = `HTTP ${response.status}${text.trim() ? `: ${text.trim().slice(-STDERR_TAIL_CHARS)}` : ''}`;
    const retryable = response.status >= 500 || RETRYABLE_STATUS.has(response.status);
    return failed('http-status', retryable, response.status >= 300 && response.status < 400 ? `${status} (redirects are not followed)` : status, { status: response.status });
  } catch (error) {
    if (options.signal?.aborted) return failed('cancelled', true, 'action cancelled');
    if (timeout.aborted) return failed('timeout', true, `timed out after ${def.timeout}`);
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    const code = (cause as NodeJS.ErrnoException | undefined)?.code;
    return failed('network', true, `request failed: ${code ?? (cause instanceof Error ? cause.message : String(cause))}`);
  }
}
