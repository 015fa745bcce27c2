// The chaos test's cluster: a persisted Temporal dev server, Mandate nodes (api, worker, or
// one launcher with role `all`) and the party agents' host, each a child process of its own
// process group so it can be killed with SIGKILL and started again on the same data dir,
// ports and database.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readdirSync, readFileSync } from 'node:fs';
import { appendFile, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Kysely } from 'kysely';
import { issueApiKey } from '../../db/api-keys';
import type { Schema } from '../../db/schema';
import { startDevServer, type DevServer } from '../../scripts/dev-server';
import { SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import { directoryActions, verifyBackupAction } from '../support/harness';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const nodeEntry = fileURLToPath(new URL('./node.ts', import.meta.url));
const agentEntry = fileURLToPath(new URL('./agent-node.ts', import.meta.url));
const agentAction = fileURLToPath(new URL('./agent-action.mjs', import.meta.url));
const examplesDir = path.join(repoRoot, 'examples');

export type NodeRole = 'api' | 'worker' | 'all' | 'agent';
export type KillKind = 'worker' | 'api' | 'dev-server' | 'launcher' | 'agent';

/** The example contract's agents the chaos runs (backup.run of their hosts' VMs). */
export const CHAOS_AGENTS = [
  { partyId: 'dc-lyon', agentId: 'ag-dc-lyon' },
  { partyId: 'nuvola', agentId: 'ag-nuvola-soc' },
] as const;
/** The agents' heartbeat timeout in the run's contract: a killed agent's job is offered again this soon. */
export const CHAOS_HEARTBEAT_WITHIN = 'PT10S';

export interface ClusterOptions {
  dataDir: string;
  databaseUrl: string;
  codecKeys: string;
  temporalCli: string;
  temporalPort: number;
  apiPort: number;
  workflowBundlePath?: string;
  /** The example contract the API loads (writeChaosContract). */
  exampleContract?: string;
  /** The agents' configuration files (writeAgentConfigs), one party agent each. */
  agentConfigs?: string[];
  /** Every line the timeline gets, as it happens (progress on stderr). */
  say?: (line: string) => void;
}

export interface TimelineEntry {
  atMs: number;
  what: string;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The engine configuration of the run: the example directory actions, writing
 * `<dataDir>/directory.json`, and `verify-backup` reading the agents' backups under `<dataDir>/agents/<party>/`.
 */
export async function writeEngineConfig(dataDir: string): Promise<{ file: string; directoryFile: string; agentsDir: string }> {
  const directoryFile = path.join(dataDir, 'directory.json');
  const agentsDir = path.join(dataDir, 'agents');
  const file = path.join(dataDir, 'engine.yaml');
  await writeFile(file, `actions:\n${directoryActions(directoryFile)}${verifyBackupAction(agentsDir)}`);
  return { file, directoryFile, agentsDir };
}

/**
 * The example contract the run loads, amended so that an agent that died is noticed within
 * CHAOS_HEARTBEAT_WITHIN (the example relies on the default minute); its runbooks beside it.
 */
export async function writeChaosContract(dataDir: string): Promise<string> {
  const text = await readFile(path.join(examplesDir, 'contract.yaml'), 'utf8');
  const row = /(R: \{ party: [a-z-]+, by: agent, action: backup-vm \}, A: nuvola) \}/g;
  const amended = text.replace(row, `$1, heartbeatWithin: ${CHAOS_HEARTBEAT_WITHIN} }`);
  if ((amended.match(/heartbeatWithin: /g) ?? []).length !== 2) throw new Error('examples/contract.yaml: the two backup.run rows were not found; adapt writeChaosContract');
  const file = path.join(dataDir, 'contract.yaml');
  await writeFile(file, amended);
  await symlink(path.join(examplesDir, 'runbooks'), path.join(dataDir, 'runbooks'));
  return file;
}

/** How long the agents' action lasts around its effect (agent-action.mjs). */
export interface ActionTiming {
  beforeMs: number;
  afterMs: number;
}

/**
 * Each chaos agent's configuration, as `mandate agent --config` reads it: its key in a file
 * (issued once the API loaded the example: writeAgentKeys), `backup-vm` running the example
 * backup through agent-action.mjs, its effects under `<dataDir>/agents/<party>/`.
 */
export async function writeAgentConfigs(dataDir: string, apiUrl: string, timing: ActionTiming): Promise<{ files: string[]; actionLog: string }> {
  const actionLog = path.join(dataDir, 'agents', 'actions.log');
  await mkdir(path.join(dataDir, 'agents'), { recursive: true });
  await writeFile(actionLog, '');
  const files: string[] = [];
  for (const { partyId } of CHAOS_AGENTS) {
    const file = path.join(dataDir, 'agents', `${partyId}.yaml`);
    const env = {
      MANDATE_AGENT_DIR: path.join(dataDir, 'agents', partyId),
      CHAOS_INFRA_SCRIPT: path.join(examplesDir, 'actions', 'infra.mjs'),
      CHAOS_ACTION_LOG: actionLog,
      CHAOS_ACTION_BEFORE_MS: String(timing.beforeMs),
      CHAOS_ACTION_AFTER_MS: String(timing.afterMs),
    };
    await writeFile(
      file,
      `api: { url: ${JSON.stringify(apiUrl)} }
key: { file: ${JSON.stringify(path.join(dataDir, 'agent-keys', `${partyId}.key`))} }
concurrency: 2
heartbeatEvery: PT10S
pollWait: PT10S
actions:
  backup-vm:
    program: node
    args: [${JSON.stringify(agentAction)}, backup, { param: asset, flag: --asset }]
    params:
      asset: { type: string, pattern: '^[a-z0-9][a-z0-9-]{0,63}$' }
    env: ${JSON.stringify(env)}
    timeout: PT1M
`,
    );
    files.push(file);
  }
  return { files, actionLog };
}

/** An agent key per chaos agent, issued as `startExampleAgents` does, written where its configuration reads it. */
export async function writeAgentKeys(db: Kysely<Schema>, dataDir: string): Promise<void> {
  await mkdir(path.join(dataDir, 'agent-keys'), { recursive: true, mode: 0o700 });
  for (const { partyId, agentId } of CHAOS_AGENTS) {
    const { key } = await issueApiKey(db, { partyId, agentId, roles: ['agent'] });
    await writeFile(path.join(dataDir, 'agent-keys', `${partyId}.key`), `${key}\n`, { mode: 0o600 });
  }
}

/** One line of the agents' action log: a phase of one action run. */
export interface ActionMark {
  atMs: number;
  pid: number;
  phase: string;
  key: string;
}

export async function readActionLog(file: string): Promise<ActionMark[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [atMs, pid, phase, key] = line.split(' ');
      return { atMs: Number(atMs), pid: Number(pid), phase: phase ?? '', key: key ?? '' };
    });
}

/** Action runs that started and have not exited (nor been killed), by pid. */
export function actionsInFlight(marks: ActionMark[]): ActionMark[] {
  const open = new Map<number, ActionMark>();
  for (const m of marks) {
    if (m.phase === 'started') open.set(m.pid, m);
    else if (m.phase === 'exiting' || m.phase === 'killed') open.delete(m.pid);
  }
  return [...open.values()];
}

/** One incarnation of a node: its pid, when it started and how it ended. */
export interface Incarnation {
  pid: number;
  /** Its MANDATE_CRASH_POINTS ('' for none). */
  crashPoints: string;
  startedAtMs: number;
  readyAtMs?: number;
  endedAtMs?: number;
  /** Why it ended: `killed` by the harness, `crash-point:<name>`, `stopped`, or an unexpected exit. */
  end?: string;
}

/** A Mandate node (child process) that can be started, killed and started again. */
export class MandateNode {
  readonly incarnations: Incarnation[] = [];
  private child?: ChildProcess;
  private exited?: Promise<void>;
  private expectedEnd?: string;
  /** Called when the node dies without the harness asking (a crash point, a crash). */
  onUnexpectedExit?: (node: MandateNode, how: string) => void;

  constructor(
    readonly name: string,
    readonly role: NodeRole,
    private readonly cluster: Cluster,
  ) {}

  /** What the child runs: a Mandate composition, or the agents' host. */
  private get entry(): string {
    return this.role === 'agent' ? agentEntry : nodeEntry;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.current?.end === undefined;
  }

  get current(): Incarnation | undefined {
    return this.incarnations.at(-1);
  }

  /** Starts the node and waits until it serves; `crashPoints` is its MANDATE_CRASH_POINTS. */
  async start(crashPoints = '', extraEnv: Record<string, string> = {}): Promise<void> {
    if (this.running) throw new Error(`${this.name} is running already`);
    const env = { ...this.cluster.nodeEnv(this.role), MANDATE_CRASH_POINTS: crashPoints, ...extraEnv };
    const logFile = path.join(this.cluster.options.dataDir, 'logs', `${this.name}.log`);
    const log = createWriteStream(logFile, { flags: 'a' });
    const write = (text: string) => {
      if (!log.writableEnded) log.write(text);
    };
    write(`\n=== start ${new Date().toISOString()} crash points: ${crashPoints || 'none'}\n`);
    const child = spawn(process.execPath, ['--import', 'tsx', this.entry], { cwd: repoRoot, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.expectedEnd = undefined;
    const incarnation: Incarnation = { pid: child.pid ?? -1, crashPoints, startedAtMs: Date.now() };
    this.incarnations.push(incarnation);
    let tail = '';
    let crashLine: string | undefined;
    let onReady: (() => void) | undefined;
    const ready = new Promise<void>((resolve) => (onReady = resolve));
    let stdoutBuffer = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      write(text);
      stdoutBuffer = (stdoutBuffer + text).slice(-10_000);
      if (stdoutBuffer.includes('CHAOS_READY ')) onReady?.();
      tail = (tail + text).slice(-3000);
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      write(text);
      tail = (tail + text).slice(-3000);
      crashLine ??= /\[crash-point\] ([a-z0-9.-]+) reached \(time (\d+)\)/.exec(text)?.[0];
    });
    // 'close' waits for every holder of the pipes: an orphaned action run could delay it.
    const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', async (code, signal) => {
        incarnation.endedAtMs = Date.now();
        // The crash point's line is in the pipe already: read it before naming the end.
        await Promise.race([closed, sleep(1_000)]);
        const crash = crashLine && /\[crash-point\] ([a-z0-9.-]+) reached \(time (\d+)\)/.exec(crashLine);
        // A crash point that fired just before a harness kill still names the end.
        const how = crash ? `crash-point:${crash[1]}#${crash[2]}` : (this.expectedEnd ?? `exit ${signal ?? code}: ${tail.trim().split('\n').slice(-5).join(' | ')}`);
        const byHarness = this.expectedEnd !== undefined && !crash;
        incarnation.end = how;
        log.end(`=== ended ${new Date().toISOString()}: ${how}\n`);
        if (!byHarness) {
          // The rest of its process group (action runs) goes with it, as with kill -9 of the group.
          try {
            process.kill(-incarnation.pid, 'SIGKILL');
          } catch {
            // Nothing left.
          }
          this.cluster.note(`${this.name} (pid ${incarnation.pid}) died: ${how}`);
          this.onUnexpectedExit?.(this, how);
        }
        resolve();
      });
    });
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      ready.then(() => 'ready' as const),
      this.exited.then(() => 'exited' as const),
      new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), 120_000))),
    ]);
    clearTimeout(timer);
    if (outcome !== 'ready') {
      if (outcome === 'timeout') await this.kill9('start timed out');
      throw new Error(`${this.name} did not start (${outcome}); its output ends with:\n${tail}`);
    }
    incarnation.readyAtMs = Date.now();
    this.cluster.note(`${this.name} started (pid ${incarnation.pid}${crashPoints ? `, crash points ${crashPoints}` : ''})`);
  }

  /** kill -9 of the node's process group (its action runs included); waits until it is gone. */
  async kill9(why = 'killed'): Promise<void> {
    if (!this.running || !this.child?.pid) return;
    this.expectedEnd = why;
    try {
      process.kill(-this.child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
    await this.exited;
  }

  /** SIGTERM, then SIGKILL after the grace period. */
  async stop(graceMs = 20_000): Promise<void> {
    if (!this.running || !this.child?.pid) return;
    this.expectedEnd = 'stopped';
    const pid = this.child.pid;
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // Gone meanwhile.
      }
    }, graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Waits until the current incarnation ended (a crash point fired). */
  async ended(): Promise<void> {
    await this.exited;
  }
}

/** The Temporal dev server, the nodes and the timeline of what happened to them. */
export class Cluster {
  readonly startedAtMs = Date.now();
  readonly timeline: TimelineEntry[] = [];
  readonly kills: { kind: KillKind; how: string; atMs: number }[] = [];
  /** Dev server started by the harness (split topology); the launcher starts its own. */
  private devServer?: DevServer;
  readonly api: MandateNode;
  readonly worker: MandateNode;
  readonly launcher: MandateNode;
  /** The party agents' host: it talks to whichever node serves the API. */
  readonly agents: MandateNode;

  constructor(readonly options: ClusterOptions) {
    this.api = new MandateNode('api', 'api', this);
    this.worker = new MandateNode('worker', 'worker', this);
    this.launcher = new MandateNode('launcher', 'all', this);
    this.agents = new MandateNode('agents', 'agent', this);
  }

  get temporalAddress(): string {
    return `127.0.0.1:${this.options.temporalPort}`;
  }

  get apiUrl(): string {
    return `http://127.0.0.1:${this.options.apiPort}`;
  }

  get temporalDbFile(): string {
    return path.join(this.options.dataDir, 'temporal.db');
  }

  /** Seconds since the cluster started, for the timeline. */
  elapsed(atMs = Date.now()): string {
    return `+${((atMs - this.startedAtMs) / 1000).toFixed(1)}s`;
  }

  note(what: string): void {
    const atMs = Date.now();
    this.timeline.push({ atMs, what });
    this.options.say?.(`[chaos ${this.elapsed(atMs)}] ${what}`);
  }

  recordKill(kind: KillKind, how: string): void {
    this.kills.push({ kind, how, atMs: Date.now() });
  }

  /** The environment of a node: the split topology names the dev server, the launcher runs its own. */
  nodeEnv(role: NodeRole): NodeJS.ProcessEnv {
    const { options } = this;
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('TEMPORAL_') && !key.startsWith('MANDATE_') && key !== 'DATABASE_URL' && key !== 'PORT'));
    // The agents reach the API only (no database, no Temporal), as a party's agent does.
    if (role === 'agent') return { ...inherited, CHAOS_AGENT_CONFIGS: (options.agentConfigs ?? []).join(','), LOG_LEVEL: process.env.MANDATE_CHAOS_LOG_LEVEL ?? 'warn' };
    return {
      ...inherited,
      MANDATE_ROLE: role,
      MANDATE_DATA_DIR: options.dataDir,
      DATABASE_URL: options.databaseUrl,
      MANDATE_CODEC_KEYS: options.codecKeys,
      MANDATE_ENGINE_CONFIG: path.join(options.dataDir, 'engine.yaml'),
      // The API loads the example (users, keys file) once; a worker never races it.
      MANDATE_LOAD_EXAMPLES: role === 'worker' ? 'false' : 'true',
      MANDATE_START_AGENTS: 'false',
      ...(options.exampleContract ? { CHAOS_EXAMPLE_CONTRACT: options.exampleContract } : {}),
      PORT: String(options.apiPort),
      LOG_LEVEL: process.env.MANDATE_CHAOS_LOG_LEVEL ?? 'warn',
      TEMPORAL_CLI: options.temporalCli,
      ...(options.workflowBundlePath ? { CHAOS_WORKFLOW_BUNDLE: options.workflowBundlePath } : {}),
      ...(role === 'all'
        ? { MANDATE_TEMPORAL_PORT: String(options.temporalPort), MANDATE_TEMPORAL_UI_PORT: '0' }
        : { TEMPORAL_ADDRESS: this.temporalAddress }),
    };
  }

  /** Starts the persisted dev server of the split topology, on the run's port and data file. */
  async startDevServer(): Promise<void> {
    this.devServer = await startDevServer({
      cliPath: this.options.temporalCli,
      dbFile: this.temporalDbFile,
      port: this.options.temporalPort,
      uiPort: false,
      searchAttributes: SEARCH_ATTRIBUTES,
      readyTimeoutMs: 90_000,
    });
    this.note(`dev server started (pid ${this.devServer.pid}, ${this.temporalAddress}, ${this.temporalDbFile})`);
  }

  async stopDevServer(): Promise<void> {
    await this.devServer?.stop();
    this.devServer = undefined;
  }

  /**
   * kill -9 of whatever dev server serves the run's data file: the harness's own, or the
   * one a killed launcher left behind (its own process group, so it outlives the launcher).
   */
  async killDevServer9(): Promise<number[]> {
    const pids = devServerPids(this.temporalDbFile);
    for (const pid of pids) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Gone already.
        }
      }
    }
    const deadline = Date.now() + 10_000;
    while (devServerPids(this.temporalDbFile).length > 0 && Date.now() < deadline) await sleep(100);
    if (this.devServer) {
      await this.devServer.stop();
      this.devServer = undefined;
    }
    return pids;
  }

  /** Stops every node and dev server (the end of the run, or a failed start). */
  async shutdown(): Promise<void> {
    await Promise.all([this.api.stop(5_000), this.worker.stop(5_000), this.launcher.stop(5_000), this.agents.stop(5_000)]);
    await this.stopDevServer();
    // A launcher's dev server outlives a killed launcher: never leave one behind.
    await this.killDevServer9();
  }
}

/**
 * kill -9 of the agents' action runs still in flight (each leads its own process group, as
 * the runner starts it, so it outlives a kill of the agent): with the agent, the host dies.
 */
export async function killActionRuns(actionLog: string): Promise<ActionMark[]> {
  const killed: ActionMark[] = [];
  for (const run of actionsInFlight(await readActionLog(actionLog))) {
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${run.pid}/cmdline`, 'utf8');
    } catch {
      // It ended meanwhile (killed on its own, or its exit mark is being written).
    }
    if (!cmdline.includes('agent-action.mjs')) continue;
    try {
      process.kill(-run.pid, 'SIGKILL');
    } catch {
      try {
        process.kill(run.pid, 'SIGKILL');
      } catch {
        continue;
      }
    }
    killed.push(run);
  }
  for (const run of killed) await appendFile(actionLog, `${Date.now()} ${run.pid} killed ${run.key}\n`);
  return killed;
}

/** Pids of `temporal server start-dev` processes persisting to this file (found in /proc). */
export function devServerPids(dbFile: string): number[] {
  const pids: number[] = [];
  if (!existsSync('/proc')) return pids;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const at = args.indexOf('--db-filename');
      if (args.includes('start-dev') && at >= 0 && args[at + 1] === dbFile) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}
