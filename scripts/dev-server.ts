// Starts and stops a local Temporal dev server (`temporal server start-dev`), and registers
// search attributes on a remote server. Used by the launcher and by the test global setup.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access } from 'node:fs/promises';
import { createServer } from 'node:net';
import { Connection } from '@temporalio/client';
import { removeDevServerPidFile, writeDevServerPidFile } from './dev-server-guard';

export type SearchAttributeTypeName = 'Keyword' | 'Text' | 'Int' | 'Datetime' | 'Bool' | 'Double' | 'KeywordList';

export interface DevServerOptions {
  cliPath: string;
  /** Persist state in this SQLite file; omit for an in-memory server. */
  dbFile?: string;
  ip?: string;
  /** Front-end gRPC port; 0 picks a free one. */
  port?: number;
  /** Web UI port; omitted or 0 picks a free one; false runs headless. */
  uiPort?: number | false;
  namespace?: string;
  searchAttributes?: Readonly<Record<string, SearchAttributeTypeName>>;
  log?: (line: string) => void;
  /** How long to wait for the server to answer. */
  readyTimeoutMs?: number;
  /** Written at spawn (pid, ports, db file), removed once the server stopped. */
  pidFile?: string;
  /** On Linux, the server gets SIGKILL when this process dies, even by kill -9 (default true). */
  dieWithParent?: boolean;
}

export interface DevServer {
  /** host:port of the front-end gRPC service. */
  address: string;
  /** http://host:port of the Web UI, unless headless. */
  uiAddress?: string;
  /** Process id of the `temporal` process (leader of its own process group). */
  pid: number;
  /** SIGTERM, then SIGKILL after `graceMs` (default 10 s); resolves once it exited. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL at once, without waiting: for a forced shutdown. */
  kill(): void;
  /** True once dieWithParent took effect (setpriv --pdeathsig was found). */
  diesWithParent: boolean;
}

// temporal.api.enums.v1.IndexedValueType: stable wire numbers.
const INDEXED_VALUE_TYPE: Record<SearchAttributeTypeName, number> = {
  Text: 1, Keyword: 2, Int: 3, Double: 4, Bool: 5, Datetime: 6, KeywordList: 7,
};

const STOP_GRACE_MS = 10_000;
const STDERR_TAIL_CHARS = 4_000;

/** Distinct free TCP ports on `ip`: all are held open until all are picked, so none repeats. */
export async function pickFreePorts(count: number, ip = '127.0.0.1'): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, ip, () => resolve(server));
  })));
  const ports = servers.map((server) => {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('net.Server has no port');
    return address.port;
  });
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  return ports;
}

/** A wildcard bind address is reached through loopback. */
function connectHost(ip: string): string {
  if (ip === '0.0.0.0') return '127.0.0.1';
  if (ip === '::') return '::1';
  return ip;
}

function hostForAddress(ip: string): string {
  return ip.includes(':') ? `[${ip}]` : ip;
}

function devServerArgs(options: Required<Pick<DevServerOptions, 'ip' | 'namespace' | 'searchAttributes'>> & {
  dbFile: string | undefined; port: number; uiPort: number | false; httpPort: number; metricsPort: number;
}): string[] {
  const args = ['server', 'start-dev',
    '--ip', options.ip, '--port', String(options.port),
    '--http-port', String(options.httpPort), '--metrics-port', String(options.metricsPort),
    '--log-level', 'warn', '--color', 'never'];
  args.push(...(options.uiPort === false ? ['--headless'] : ['--ui-port', String(options.uiPort)]));
  if (options.dbFile) args.push('--db-filename', options.dbFile);
  // "default" always exists; naming it again is harmless, another one is created at launch.
  if (options.namespace !== 'default') args.push('--namespace', options.namespace);
  for (const [name, type] of Object.entries(options.searchAttributes)) args.push('--search-attribute', `${name}=${type}`);
  return args;
}

/** The child's environment without TEMPORAL_* client settings, which the CLI would otherwise read. */
function childEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('TEMPORAL_')));
}

let setprivLookup: Promise<string | undefined> | undefined;

/** util-linux `setpriv` with --pdeathsig (2.33+), which Debian and most distributions ship. */
function findSetpriv(): Promise<string | undefined> {
  setprivLookup ??= (async () => {
    if (process.platform !== 'linux') return undefined;
    for (const candidate of ['/usr/bin/setpriv', '/bin/setpriv', '/usr/sbin/setpriv']) {
      try {
        await access(candidate, fsConstants.X_OK);
      } catch {
        continue;
      }
      const help = await new Promise<string>((resolve) => execFile(candidate, ['--help'], (_error, stdout) => resolve(String(stdout))));
      if (help.includes('--pdeathsig')) return candidate;
    }
    return undefined;
  })();
  return setprivLookup;
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Group already gone.
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** True when the namespace answers and lists every wanted search attribute. */
async function answers(address: string, namespace: string, wanted: readonly string[]): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, connectTimeout: 2_000 });
    const conn = connection;
    const deadline = () => new Date(Date.now() + 2_000);
    await conn.withDeadline(deadline(), () => conn.workflowService.describeNamespace({ namespace }));
    if (wanted.length === 0) return true;
    const listed = await conn.withDeadline(deadline(), () => conn.operatorService.listSearchAttributes({ namespace }));
    const custom = listed.customAttributes ?? {};
    return wanted.every((name) => name in custom);
  } catch {
    return false;
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

/** Starts `temporal server start-dev` in its own process group and waits until it answers. */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const log = options.log ?? (() => undefined);
  // Ports we pick can be taken between picking and binding: retry on a collision.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options, log);
    } catch (error) {
      // A collision on a port we picked is retried; one on a port the caller chose is theirs to fix.
      const collided = error instanceof DevServerStartError && error.portInUse;
      const chosen = [options.port, options.uiPort].filter((p): p is number => typeof p === 'number' && p !== 0);
      const theirs = error instanceof DevServerStartError && (error.collidedPort === undefined ? chosen.length > 0 : chosen.includes(error.collidedPort));
      if (!collided || theirs || attempt >= 3) throw error;
      log(`Temporal dev server: a port was taken, retrying (${attempt}/3)`);
    }
  }
}

export class DevServerStartError extends Error {
  constructor(message: string, readonly portInUse: boolean, readonly collidedPort?: number) {
    super(message);
    this.name = 'DevServerStartError';
  }
}

/** The port named by Go's "listen tcp 127.0.0.1:7233: bind: address already in use". */
function collidedPortIn(output: string): number | undefined {
  const match = /:(\d+): bind: address already in use/i.exec(output);
  return match ? Number(match[1]) : undefined;
}

async function startOnce(options: DevServerOptions, log: (line: string) => void): Promise<DevServer> {
  const ip = options.ip ?? '127.0.0.1';
  const namespace = options.namespace ?? 'default';
  const searchAttributes = options.searchAttributes ?? {};
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
  const [p0, p1, p2, p3] = await pickFreePorts(4, ip);
  const port = options.port || p0!;
  const uiPort = options.uiPort === false ? false : options.uiPort || p1!;
  const args = devServerArgs({ ip, namespace, searchAttributes, dbFile: options.dbFile, port, uiPort, httpPort: p2!, metricsPort: p3! });

  log(`Starting Temporal dev server: ${options.cliPath} ${args.join(' ')}`);
  // Its own process group, so a terminal's Ctrl-C reaches only the launcher, which stops it last
  // (after the worker drained). setpriv execs the CLI (same pid) with "SIGKILL me when my parent
  // dies", so a launcher killed with -9 does not leave it holding the port and the SQLite file.
  const setpriv = options.dieWithParent === false ? undefined : await findSetpriv();
  const child = setpriv
    ? spawn(setpriv, ['--pdeathsig', 'KILL', '--', options.cliPath, ...args], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() })
    : spawn(options.cliPath, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() });
  if (options.pidFile && child.pid !== undefined) {
    writeDevServerPidFile(options.pidFile, {
      pid: child.pid, launcherPid: process.pid, port, uiPort, dbFile: options.dbFile ?? '', startedAt: new Date().toISOString(),
    });
  }
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-STDERR_TAIL_CHARS);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);

  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnError: Error | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    // 'close' comes after the output pipes drained, so the tail below is complete.
    child.once('close', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
    child.once('error', (error) => {
      spawnError = error;
      exited ??= { code: null, signal: null };
      resolve();
    });
  });
  // A crashed or interrupted parent must not leave the server running.
  // Not once it exited: its pid could be another program's group by then.
  const killOnExit = () => {
    if (!exited) signalGroup(child, 'SIGKILL');
  };
  process.once('exit', killOnExit);

  let stopping: Promise<void> | undefined;
  const stop = (graceMs = STOP_GRACE_MS): Promise<void> => {
    stopping ??= (async () => {
      if (!exited) {
        signalGroup(child, 'SIGTERM');
        const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs);
        await exitPromise;
        clearTimeout(timer);
      }
      child.stdout?.destroy();
      child.stderr?.destroy();
      process.removeListener('exit', killOnExit);
      if (options.pidFile && child.pid !== undefined) removeDevServerPidFile(options.pidFile, child.pid);
    })();
    return stopping;
  };

  const address = `${hostForAddress(connectHost(ip))}:${port}`;
  const deadline = Date.now() + readyTimeoutMs;
  const wanted = Object.keys(searchAttributes);
  let addedMissing = false;
  // A server that dies stops the wait at once, not after a connect timeout.
  while (!(await Promise.race([answers(address, namespace, wanted), exitPromise.then(() => false)]))) {
    if (exited) {
      await stop();
      const how = spawnError ? spawnError.message : exited.signal ? `signal ${exited.signal}` : `exit code ${exited.code}`;
      throw new DevServerStartError(
        `Temporal dev server (${options.cliPath}) ended before answering (${how}). Its output ends with:\n${output.trim()}`,
        /address already in use/i.test(output),
        collidedPortIn(output),
      );
    }
    if (Date.now() > deadline) {
      await stop();
      throw new DevServerStartError(
        `Temporal dev server did not answer on ${address} within ${readyTimeoutMs / 1000}s. Its output ends with:\n${output.trim()}`,
        false,
      );
    }
    // --search-attribute applies to a new state file only: one from before an attribute existed
    // keeps its namespace without it, so the missing ones are added here.
    if (wanted.length > 0 && !addedMissing && (await answers(address, namespace, []))) {
      addedMissing = await addMissingSearchAttributes(address, namespace, searchAttributes, log);
    }
    await sleep(250);
  }
  log(`Temporal dev server answers on ${address}${uiPort === false ? '' : ` (UI http://${hostForAddress(connectHost(ip))}:${uiPort})`}`);
  return {
    address,
    ...(uiPort === false ? {} : { uiAddress: `http://${hostForAddress(connectHost(ip))}:${uiPort}` }),
    pid: child.pid!,
    stop,
    kill: killOnExit,
    diesWithParent: setpriv !== undefined,
  };
}

async function addMissingSearchAttributes(
  address: string, namespace: string, attributes: Readonly<Record<string, SearchAttributeTypeName>>, log: (line: string) => void,
): Promise<boolean> {
  try {
    const connection = await Connection.connect({ address, connectTimeout: 2_000 });
    try {
      const added = await registerSearchAttributes(connection, namespace, attributes);
      if (added.length > 0) log(`Temporal dev server: added search attributes its state file lacked: ${added.join(', ')}`);
    } finally {
      await connection.close();
    }
    return true;
  } catch (error) {
    log(`Temporal dev server: adding search attributes failed, retrying: ${error instanceof Error ? error.message : String(error)}`);
    return false;
  }
}

/** Adds the search attributes a remote namespace lacks; ones already there (any type) are left alone. */
export async function registerSearchAttributes(
  connection: Connection,
  namespace: string,
  attributes: Readonly<Record<string, SearchAttributeTypeName>>,
): Promise<string[]> {
  const listed = await connection.operatorService.listSearchAttributes({ namespace });
  const existing = new Set([...Object.keys(listed.customAttributes ?? {}), ...Object.keys(listed.systemAttributes ?? {})]);
  const missing = Object.entries(attributes).filter(([name]) => !existing.has(name));
  if (missing.length === 0) return [];
  try {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map(([name, type]) => [name, INDEXED_VALUE_TYPE[type]])),
    });
  } catch (error) {
    // Another process registered them meanwhile (gRPC ALREADY_EXISTS).
    if ((error as { code?: number }).code !== 6) throw error;
  }
  return missing.map(([name]) => name);
}
