// The launcher of `npm start` run for real (child processes, the Temporal CLI): it owns its
// children and stops in bounded time (issue 11.3).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../config/app-config';
import { pickFreePorts } from '../../scripts/dev-server';
import { clearStaleDevServer } from '../../scripts/dev-server-guard';
import { findOrBuildTemporalCli } from '../../scripts/temporal-cli';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { alive, commandLine, descendants, killGroup, launcherEnv, spawnLauncher, survivors, type LauncherRun } from './launcher-process';

const RUNNING = /Mandate is running/;
// A loaded 2-core machine starts the launcher (tsx, dev server, database) in 10–60 s.
const START_MS = 150_000;
const diesWithParent = process.platform === 'linux' && existsSync('/usr/bin/setpriv');
const node = (script: string) => ({ command: process.execPath, args: ['--import', 'tsx', script] });

let scratch: string;
const cleanups: (() => Promise<void> | void)[] = [];
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'mandate-launcher-'));
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function newDataDir(): Promise<string> {
  return mkdtemp(join(scratch, 'data-'));
}

/** PostgreSQL: a new PGlite takes tens of seconds more on a loaded machine, and is not what is tested here. */
async function newDatabaseUrl(): Promise<string> {
  const database = await createTestDatabase();
  cleanups.push(() => database.drop());
  return database.url;
}

function start(settings: Record<string, string>, how: { command: string; args: string[] } = node('scripts/start.ts')): LauncherRun {
  const run = spawnLauncher(how.command, how.args, launcherEnv(settings), true);
  // Whatever a test leaves running is killed (its group: the launcher and its dev server).
  cleanups.push(() => {
    killGroup(run.pid, 'SIGKILL');
    const pid = devServerPid(settings.MANDATE_DATA_DIR!);
    if (pid !== undefined && alive(pid) && commandLine(pid).includes(settings.MANDATE_DATA_DIR!)) process.kill(pid, 'SIGKILL');
  });
  return run;
}

function devServerPid(dataDir: string): number | undefined {
  const file = join(dataDir, 'temporal.pid');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { pid: number }).pid : undefined;
}

/** SIGINT as a terminal's Ctrl-C; resolves with the exit and how long it took. */
async function interrupt(run: LauncherRun, group = false): Promise<{ code: number | null; ms: number }> {
  const begun = Date.now();
  if (group) killGroup(run.pid, 'SIGINT');
  else process.kill(run.pid, 'SIGINT');
  const { code } = await run.exited;
  return { code, ms: Date.now() - begun };
}

describe('npm start, killed with -9', () => {
  it('when its process group is killed, then its dev server dies with it and the next start on the same data dir and port starts', async () => {
    const dataDir = await newDataDir();
    const [temporalPort] = await pickFreePorts(1);
    const settings = { MANDATE_DATA_DIR: dataDir, MANDATE_TEMPORAL_PORT: String(temporalPort), MANDATE_ROLE: 'api', DATABASE_URL: await newDatabaseUrl() };
    // As `npm start` runs it: the tsx CLI, which runs the launcher as its child.
    const first = start(settings, { command: 'npx', args: ['tsx', 'scripts/start.ts'] });
    await first.waitFor(RUNNING, START_MS);
    const devServer = devServerPid(dataDir);
    expect(devServer, 'the pid file names the dev server').toBeDefined();
    const children = descendants(first.pid);
    expect(children).toContain(devServer);

    killGroup(first.pid, 'SIGKILL');
    await first.exited;
    if (diesWithParent) {
      expect(await survivors(children, 10_000), 'processes of the killed launcher still running').toEqual([]);
    }

    const second = start(settings);
    await second.waitFor(RUNNING, START_MS);
    expect(second.output()).not.toMatch(/address already in use/i);
    expect(second.output()).toContain(`Temporal:     127.0.0.1:${temporalPort}`);
    const secondChildren = descendants(second.pid);
    const stopped = await interrupt(second);
    expect(stopped.code, second.output().slice(-2000)).toBe(0);
    expect(await survivors(secondChildren, 5_000)).toEqual([]);
    expect(existsSync(join(dataDir, 'temporal.pid')), 'a clean stop removes the pid file').toBe(false);
  }, 2 * START_MS + 30_000);

  it('when only the launcher process is killed, then its dev server dies too (Linux) and the next start takes its port', async () => {
    const dataDir = await newDataDir();
    const [temporalPort] = await pickFreePorts(1);
    const settings = { MANDATE_DATA_DIR: dataDir, MANDATE_TEMPORAL_PORT: String(temporalPort), MANDATE_ROLE: 'api', DATABASE_URL: await newDatabaseUrl() };
    const first = start(settings);
    await first.waitFor(RUNNING, START_MS);
    const devServer = devServerPid(dataDir)!;
    expect(alive(devServer)).toBe(true);

    process.kill(first.pid, 'SIGKILL');
    await first.exited;
    if (diesWithParent) expect(await survivors([devServer], 10_000), 'the dev server outlived its launcher').toEqual([]);

    const second = start(settings);
    await second.waitFor(RUNNING, START_MS);
    expect(second.output()).not.toMatch(/address already in use/i);
    expect((await interrupt(second)).code, second.output().slice(-2000)).toBe(0);
  }, 2 * START_MS + 30_000);

  it('when a dev server of the data dir outlived its launcher, then the next start stops it, says so, and takes its port', async () => {
    // What a system without setpriv leaves after a kill -9: an orphaned dev server and its pid file.
    const dataDir = await newDataDir();
    const dbFile = join(dataDir, 'temporal.db');
    const [temporalPort, httpPort, metricsPort] = await pickFreePorts(3);
    const cliPath = await findOrBuildTemporalCli();
    const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(temporalPort), '--http-port', String(httpPort),
      '--metrics-port', String(metricsPort), '--headless', '--log-level', 'warn', '--db-filename', dbFile];
    const orphan = spawn(cliPath, args, { detached: true, stdio: 'ignore' });
    orphan.unref();
    cleanups.push(() => {
      if (alive(orphan.pid!)) process.kill(orphan.pid!, 'SIGKILL');
    });
    await writeFile(join(dataDir, 'temporal.pid'), JSON.stringify({
      pid: orphan.pid, launcherPid: 999_999_999, port: temporalPort, uiPort: false, dbFile, startedAt: new Date().toISOString(),
    }));
    await waitForPort(temporalPort!, 60_000);

    const run = start({ MANDATE_DATA_DIR: dataDir, MANDATE_TEMPORAL_PORT: String(temporalPort), MANDATE_ROLE: 'api', DATABASE_URL: await newDatabaseUrl() });
    await run.waitFor(RUNNING, START_MS);
    expect(run.output()).toMatch(new RegExp(`stopping a Temporal dev server left running by an earlier start that was killed \\(pid ${orphan.pid}, port ${temporalPort}`));
    expect(alive(orphan.pid!)).toBe(false);
    expect(devServerPid(dataDir)).not.toBe(orphan.pid);
    expect((await interrupt(run)).code).toBe(0);
  }, START_MS + 90_000);

  it('when the pid file names a process that is not the dev server of this data dir, then it is left alone and the file dropped', async () => {
    const dataDir = await newDataDir();
    const pidFile = join(dataDir, 'temporal.pid');
    // A pid the OS gave to something else; and a dev server of another data dir.
    const stranger = spawn('sleep', ['60'], { stdio: 'ignore' });
    cleanups.push(() => void stranger.kill('SIGKILL'));
    for (const record of [
      { pid: stranger.pid, launcherPid: 1, dbFile: join(dataDir, 'temporal.db') },
      { pid: stranger.pid, launcherPid: 1, dbFile: '/elsewhere/temporal.db' },
    ]) {
      await writeFile(pidFile, JSON.stringify({ ...record, port: 7233, uiPort: false, startedAt: '2027-01-01T00:00:00Z' }));
      const lines: string[] = [];
      await clearStaleDevServer({ pidFile, dbFile: join(dataDir, 'temporal.db'), log: (l) => lines.push(l), warn: (l) => lines.push(`warn: ${l}`), termGraceMs: 500 });
      expect(alive(stranger.pid!)).toBe(true);
      expect(existsSync(pidFile)).toBe(false);
      expect(lines.join('\n')).toMatch(/is gone \(or is another program now\)/);
    }
  });
});

describe('npm start, a port taken by another program', () => {
  it('when MANDATE_TEMPORAL_PORT is taken, then start-up fails naming the port and the variable, not "address already in use"', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => holder.close(() => resolve())));
    const port = (holder.address() as { port: number }).port;
    const run = start({ MANDATE_DATA_DIR: await newDataDir(), MANDATE_TEMPORAL_PORT: String(port), MANDATE_ROLE: 'api' });
    const { code } = await run.exited;
    expect(code).toBe(1);
    expect(run.output()).toContain(`port ${port} on 127.0.0.1 is taken by another program: stop it, or set MANDATE_TEMPORAL_PORT to a free port`);
    expect(run.output()).not.toMatch(/address already in use/i);
  }, START_MS);
});

describe('npm start, Ctrl-C', () => {
  let database: TestDatabase | undefined;
  afterAll(async () => {
    await database?.drop();
  });

  it('when the worker is stuck in an activity, then SIGINT ends the launcher and all its children within the grace period, saying what was forced', async () => {
    const bundle = inject('workflowBundlePath');
    expect(bundle, inject('workflowBundleError')).not.toBe('');
    database = await createTestDatabase();
    const graceS = 3;
    const dataDir = await newDataDir();
    const run = start({
      MANDATE_DATA_DIR: dataDir, MANDATE_TEMPORAL_PORT: '0', DATABASE_URL: database.url,
      MANDATE_LOAD_EXAMPLES: 'true', MANDATE_SHUTDOWN_GRACE: String(graceS), MANDATE_TEST_WORKFLOW_BUNDLE: bundle,
    }, node('test/infra/fixtures/launcher-prebuilt.ts'));
    await run.waitFor(RUNNING, START_MS);

    // The journal is locked: the process's first journal write waits in the worker, deaf to cancellation.
    const locker = new pg.Client({ connectionString: database.url });
    await locker.connect();
    cleanups.push(() => locker.end());
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE journal IN ACCESS EXCLUSIVE MODE');
    const started = await startOnboarding(run, join(dataDir, 'example-keys.json'));
    expect(started.status, started.text).toBe(201);
    await waitUntil(async () => (await locker.query(
      "select count(*)::int as n from pg_locks l join pg_class c on c.oid = l.relation where c.relname = 'journal' and not l.granted",
    )).rows[0].n > 0, 60_000, 'a journal write waiting on the lock');

    const children = descendants(run.pid);
    expect(children.length).toBeGreaterThan(0);
    const stopped = await interrupt(run);
    expect(stopped.ms, 'time from SIGINT to exit').toBeLessThan((graceS + 5) * 1000);
    expect(stopped.code).toBe(1);
    expect(run.output()).toMatch(/shutdown forced after 3s \(MANDATE_SHUTDOWN_GRACE\): [^"]*engine worker/);
    const left = await survivors(children, 5_000);
    expect(left.map((pid) => `${pid}: ${commandLine(pid)}`)).toEqual([]);
  }, START_MS + 90_000);
});

describe('MANDATE_SHUTDOWN_GRACE', () => {
  it('when given as seconds or an ISO 8601 duration, then it is read in milliseconds; otherwise the error names it', () => {
    expect(loadConfig({}).MANDATE_SHUTDOWN_GRACE).toBe(15_000);
    expect(loadConfig({ MANDATE_SHUTDOWN_GRACE: '2.5' }).MANDATE_SHUTDOWN_GRACE).toBe(2_500);
    expect(loadConfig({ MANDATE_SHUTDOWN_GRACE: 'PT1M' }).MANDATE_SHUTDOWN_GRACE).toBe(60_000);
    for (const bad of ['0', 'soon', 'PT2H', '-1']) {
      expect(() => loadConfig({ MANDATE_SHUTDOWN_GRACE: bad }), bad).toThrow(/MANDATE_SHUTDOWN_GRACE: .*seconds \(15\) or an ISO 8601 duration \(PT15S\)/);
    }
  });
});

async function startOnboarding(run: LauncherRun, keysFile: string): Promise<{ status: number; text: string }> {
  const keys = JSON.parse(readFileSync(keysFile, 'utf8')) as { userId: string; key: string }[];
  const lea = keys.find((k) => k.userId === 'u-hr-lea')!.key;
  const api = run.output().match(/API: +(http:\/\/\S+)/)![1];
  const response = await fetch(`${api}/v1/contracts/ctr-martin-2027/processes`, {
    method: 'POST',
    headers: { authorization: `Bearer ${lea}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      type: 'employee-onboarding', businessKey: 'emp-launcher-1',
      input: { employee: { firstName: 'Ada', lastName: 'Lovelace', email: 'ada@martin.example', department: 'R&D', startDate: '2027-03-01' },
        privilegedGroups: ['erp-admins'], laptop: { model: 'T14', shipTo: 'Lyon HQ' } },
    }),
  });
  return { status: response.status, text: await response.text() };
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`no ${what} within ${timeoutMs / 1000}s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  await waitUntil(() => new Promise((resolve) => {
    const socket = new Socket();
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.connect(port, '127.0.0.1');
  }), timeoutMs, `listener on port ${port}`);
}
