// Keeps one data dir to one Temporal dev server: a pid file written at spawn, the clean-up of a
// dev server an earlier launcher left running (killed with -9), and a port check that names the
// variable to change instead of Temporal's "address already in use".
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';

export interface DevServerPidRecord {
  pid: number;
  /** The process that spawned it: while it lives and is the parent, the server is not stale. */
  launcherPid: number;
  port: number;
  uiPort: number | false;
  dbFile: string;
  startedAt: string;
}

export class LaunchError extends Error {
  override name = 'LaunchError';
}

export function writeDevServerPidFile(file: string, record: DevServerPidRecord): void {
  // Synchronous: no window in which a spawned server has no pid file.
  writeFileSync(file, JSON.stringify(record, null, 2) + '\n', { mode: 0o644 });
}

/** Removes the pid file if it still names this pid (a newer launcher may have rewritten it). */
export function removeDevServerPidFile(file: string, pid: number): void {
  if (readPidFile(file)?.pid === pid) rmSync(file, { force: true });
}

function readPidFile(file: string): DevServerPidRecord | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const record = JSON.parse(text) as Partial<DevServerPidRecord>;
    if (Number.isInteger(record.pid) && record.pid! > 1 && typeof record.dbFile === 'string') return record as DevServerPidRecord;
  } catch {
    // Unreadable: treated as absent below.
  }
  return undefined;
}

interface ProcessView {
  args: string[];
  ppid: number;
  zombie: boolean;
}

/** What Linux says of a pid; undefined when it does not exist (or /proc is not there). */
function viewProcess(pid: number): ProcessView | undefined {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
    // "pid (comm) S ppid …": comm may hold spaces and parentheses, so read after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { args, ppid: Number(ppid), zombie: state === 'Z' || state === 'X' };
  } catch {
    return undefined;
  }
}

/** True only for `temporal server start-dev … --db-filename <dbFile>`: never a pid the OS gave to something else. */
export function isDevServerOf(pid: number, dbFile: string): boolean {
  const view = viewProcess(pid);
  return view !== undefined && !view.zombie && runsDevServerOf(view.args, dbFile);
}

function runsDevServerOf(args: readonly string[], dbFile: string): boolean {
  const db = args.indexOf('--db-filename');
  return args.includes('start-dev') && db >= 0 && args[db + 1] === dbFile;
}

function gone(pid: number): boolean {
  const view = viewProcess(pid);
  if (view) return view.zombie;
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (!gone(pid)) {
    if (Date.now() > until) return false;
    await sleep(50);
  }
  return true;
}

export interface StaleCheckOptions {
  pidFile: string;
  dbFile: string;
  log: (line: string) => void;
  warn: (line: string) => void;
  /** SIGTERM first, SIGKILL after this long. */
  termGraceMs?: number;
}

/**
 * Stops a dev server of this data dir that no launcher owns any more (its launcher was killed),
 * so that its port and SQLite file are free. One still owned by a running launcher is refused with
 * a clear message. A pid file naming a gone or unrelated process is dropped without killing anything.
 */
export async function clearStaleDevServer(opts: StaleCheckOptions): Promise<void> {
  const record = readPidFile(opts.pidFile);
  if (!record) {
    rmSync(opts.pidFile, { force: true });
    return;
  }
  const view = viewProcess(record.pid);
  if (view === undefined && process.platform !== 'linux') {
    // Without /proc nothing proves what the pid runs now: report, never kill.
    opts.warn(`${opts.pidFile} names a Temporal dev server (pid ${record.pid}) that may still run: if "address already in use" follows, stop it and delete that file`);
    rmSync(opts.pidFile, { force: true });
    return;
  }
  if (view === undefined || view.zombie || !runsDevServerOf(view.args, opts.dbFile)) {
    opts.log(`Temporal dev server pid file: pid ${record.pid} is gone (or is another program now): removed ${opts.pidFile}`);
    rmSync(opts.pidFile, { force: true });
    return;
  }
  if (view.ppid === record.launcherPid && record.launcherPid !== process.pid) {
    throw new LaunchError(
      `another Mandate launcher (pid ${record.launcherPid}) is running on this data dir, with its Temporal dev server (pid ${record.pid}, port ${record.port}): `
      + 'stop it first (Ctrl-C there, or kill ' + record.launcherPid + '), or set MANDATE_DATA_DIR to another directory',
    );
  }
  // An orphan: nobody would stop it, and it cannot be made to die with us (pdeathsig is set at spawn only).
  opts.warn(`stopping a Temporal dev server left running by an earlier start that was killed (pid ${record.pid}, port ${record.port}, since ${record.startedAt})`);
  signal(record.pid, 'SIGTERM');
  if (!(await waitGone(record.pid, opts.termGraceMs ?? 5_000))) {
    signal(record.pid, 'SIGKILL');
    if (!(await waitGone(record.pid, 5_000))) {
      throw new LaunchError(`the Temporal dev server left by an earlier start (pid ${record.pid}) did not stop, even on SIGKILL: stop it by hand`);
    }
  }
  rmSync(opts.pidFile, { force: true });
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

export interface NamedPort {
  port: number;
  /** The environment variable that sets it, named in the error. */
  variable: string;
}

/** Fails with a message naming the port and its variable when another program listens there. */
export async function assertPortsFree(ip: string, ports: readonly NamedPort[]): Promise<void> {
  for (const { port, variable } of ports) {
    if (port === 0) continue;
    const inUse = await new Promise<boolean>((resolve, reject) => {
      const server = createServer();
      server.unref();
      server.once('error', (error: NodeJS.ErrnoException) => (error.code === 'EADDRINUSE' ? resolve(true) : reject(error)));
      server.listen({ port, host: ip, exclusive: true }, () => server.close(() => resolve(false)));
    });
    if (inUse) throw portInUseError(ip, port, variable);
  }
}

export function portInUseError(ip: string, port: number, variable: string): LaunchError {
  return new LaunchError(`port ${port} on ${ip} is taken by another program: stop it, or set ${variable} to a free port (0 picks one)`);
}
