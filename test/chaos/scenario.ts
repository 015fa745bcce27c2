// The chaos run of issue 11, in two phases on one database and one data dir:
//
// 1. Split topology: the harness's persisted dev server, an API node and a worker node.
//    HR starts the onboardings; approvals and shipments are completed while the worker
//    dies at deliberate crash points (`record.committed`: a step record committed, the
//    workflow task that wrote it not yet completed) and at random moments, and the API
//    dies right after claiming a task (`task.claimed`). Confirmations are held back until
//    every process waits for one.
// 2. Whole launcher: one node with role `all` that runs its own dev server on the same
//    data file. The service desk confirms; the launcher dies at its first step record
//    (inside the update handler of the first confirmation) and is killed at random, each
//    time together with its dev server, and restarted on the same data dir.
//
// Throughout, the service desk's backup runs are done by the party agents of dc-lyon and
// nuvola (backup.run: the real agent runner, through the HTTP agent API), hosted in their own
// process: it is killed -9 while an action runs, with its action runs (the host dies) or
// alone (an action run outlives it), and started again; the job must be offered again after
// its heartbeat timeout and its effect happen once (its idempotency key).
//
// Then the run settles (bounded) and the invariant is checked (checks.ts).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { Kysely } from 'kysely';
import type { Schema } from '../../db/schema';
import { pickFreePorts } from '../../scripts/dev-server';
import { findOrBuildTemporalCli } from '../../scripts/temporal-cli';
import { EncryptionCodec, newCodecKeySpec, parseCodecKeys } from '../../temporal/codec';
import { checkInvariant, snapshotJournals, type CheckOutcome, type JournalSnapshot } from './checks';
import { People } from './driver';
import { actionsInFlight, Cluster, killActionRuns, readActionLog, writeAgentConfigs, writeAgentKeys, writeChaosContract, writeEngineConfig, type ActionTiming, type KillKind, type MandateNode } from './harness';

export interface ChaosPlan {
  name: string;
  processes: number;
  /** MANDATE_CRASH_POINTS of each worker incarnation, in order (missing: none). */
  worker: string[];
  api: string[];
  launcher: string[];
  randomWorkerKills: number;
  devServerKills: number;
  randomLauncherKills: number;
  /** Backup runs started with the onboardings, and when the launcher takes over. */
  backups: number;
  backupsPhase2: number;
  /** Kills of the agents' host, each while an action runs; odd ones spare the action runs. */
  agentKills: number;
  /** How long each agent action lasts before and after its effect. */
  action: ActionTiming;
  /** Phase 1 gives up this long after its last restart when not every process waits for its confirmation. */
  phase1Ms: number;
  /** Everything must be completed this long after the last restart. */
  settleMs: number;
  /** Pause before a killed node starts again. */
  pauseMs: readonly [number, number];
  /** Random kills come this long after the previous start. */
  randomKillAfterMs: readonly [number, number];
  seed: number;
}

export interface ChaosEnv {
  db: Kysely<Schema>;
  databaseUrl: string;
  workflowBundlePath?: string;
  say: (line: string) => void;
}

export interface ChaosReport {
  outcome: CheckOutcome;
  summary: string;
  timeline: string[];
  dataDir: string;
  recoveryMs?: number;
  durationMs: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A small seeded PRNG: the seed printed with the summary replays the same kill points. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function runChaos(plan: ChaosPlan, env: ChaosEnv): Promise<ChaosReport> {
  const startedAt = Date.now();
  const random = mulberry32(plan.seed);
  const between = ([min, max]: readonly [number, number]) => Math.round(min + random() * (max - min));
  const dataDir = await mkdtemp(path.join(tmpdir(), `mandate-chaos-${plan.name}-`));
  await mkdir(path.join(dataDir, 'logs'));
  const { directoryFile, agentsDir } = await writeEngineConfig(dataDir);
  const exampleContract = await writeChaosContract(dataDir);
  const [temporalPort, apiPort] = await pickFreePorts(2);
  const { files: agentConfigs, actionLog } = await writeAgentConfigs(dataDir, `http://127.0.0.1:${apiPort}`, plan.action);
  const codecKeys = newCodecKeySpec('chaos');
  // Kept with the data dir (as the launcher keeps its own): a failed run's histories stay readable.
  await writeFile(path.join(dataDir, 'codec-keys'), `${codecKeys}\n`, { mode: 0o600 });
  const temporalCli = await findOrBuildTemporalCli({ log: env.say });
  const cluster = new Cluster({ dataDir, databaseUrl: env.databaseUrl, codecKeys, temporalCli, temporalPort: temporalPort!, apiPort: apiPort!, workflowBundlePath: env.workflowBundlePath, exampleContract, agentConfigs, say: env.say });
  cluster.note(`plan ${plan.name}: ${plan.processes} onboardings, ${plan.backups + plan.backupsPhase2} backup runs, seed ${plan.seed}, data dir ${dataDir}`);

  const snapshots: JournalSnapshot[] = [];
  const processIds = () => [...(people?.employees ?? []), ...(people?.backups ?? [])].map((e) => e.processId);
  const snapshot = async (why: string) => {
    snapshots.push(await snapshotJournals(env.db, processIds(), why).catch(() => ({ takenAtMs: Date.now(), why, hashes: new Map<string, string>() })));
  };
  let lastRestartMs = Date.now();
  // Kills and restarts of one node happen one at a time: a random kill never meets it mid-start.
  const turns = new Map<string, Promise<void>>();
  const inTurn = (key: string, fn: () => Promise<void>) => {
    const previous = turns.get(key) ?? Promise.resolve();
    const next = previous.then(fn).catch((err: unknown) => cluster.note(`${key}: restart failed: ${err instanceof Error ? err.message : String(err)}`));
    turns.set(key, next);
    return next;
  };
  const allTurns = async () => {
    for (;;) {
      const pending = [...turns.values()];
      await Promise.all(pending);
      if ([...turns.values()].every((t, i) => t === pending[i]) && turns.size === pending.length) return;
    }
  };
  const restart = async (node: MandateNode, specs: string[]) => {
    if (node.running) return;
    await sleep(between(plan.pauseMs));
    await node.start(specs[node.incarnations.length] ?? '');
    lastRestartMs = Date.now();
  };
  /** A node that dies by itself (a crash point) is killed for good (its group, its dev server for a launcher) and started again. */
  const supervise = (node: MandateNode, kind: KillKind, specs: string[]) => {
    node.onUnexpectedExit = (_node, how) => {
      cluster.recordKill(kind, how);
      void inTurn(node.name, async () => {
        await snapshot(`${kind} ${how} ${cluster.elapsed()}`);
        if (kind === 'launcher') cluster.note(`launcher died: kill -9 of its dev server too (pids ${(await cluster.killDevServer9()).join(', ') || 'none'})`);
        await restart(node, specs);
      });
    };
  };
  /**
   * Kills the node at random, each time a random while after its latest start; an incarnation
   * armed with a crash point is left to die there first (its restart starts the wait again).
   */
  const randomKills = async (node: MandateNode, kind: KillKind, count: number, specs: string[], active: () => boolean) => {
    for (let i = 0; i < count && active(); i++) {
      for (;;) {
        await turns.get(node.name);
        const incarnation = node.current;
        if (incarnation?.crashPoints && !incarnation.end) {
          while (active() && !incarnation.end) await sleep(250);
          if (!active()) break;
          continue;
        }
        const wait = (incarnation?.readyAtMs ?? Date.now()) + between(plan.randomKillAfterMs) - Date.now();
        await sleep(Math.max(0, wait));
        await turns.get(node.name);
        if (node.current === incarnation || !active()) break;
      }
      if (!active() || !node.running) continue;
      await inTurn(node.name, async () => {
        await snapshot(`random kill of ${kind} ${cluster.elapsed()}`);
        cluster.note(`kill -9 ${kind} (pid ${node.pid}) at random`);
        await node.kill9('random kill -9');
        // A crash point that fired first is the supervisor's kill, not ours.
        if (node.current?.end?.startsWith('crash-point:')) return;
        cluster.recordKill(kind, 'random kill -9');
        if (kind === 'launcher') cluster.note(`and kill -9 of its dev server (pids ${(await cluster.killDevServer9()).join(', ') || 'none'})`);
        await restart(node, specs);
      });
    }
  };

  /**
   * Kills the agents' host while an action runs: at a random moment after an action run of the
   * current incarnation made its effect and before it exits, so its result is never posted
   * (the other runs are wherever they are, often before their effect). Even kills take the
   * action runs with it (the host dies), odd ones leave them to finish as orphans. With backups
   * in phase 2, the second half of the kills waits for it (the launcher serves the API).
   */
  const agentKillsMidJob: string[] = [];
  let inPhase2 = false;
  const agentKills = async (active: () => boolean) => {
    const node = cluster.agents;
    for (let i = 0; i < plan.agentKills && active(); i++) {
      while (plan.backupsPhase2 > 0 && i >= Math.ceil(plan.agentKills / 2) && !inPhase2 && active()) await sleep(250);
      let actedAt: number | undefined;
      while (active() && actedAt === undefined) {
        await turns.get(node.name);
        const since = node.current?.readyAtMs ?? Number.POSITIVE_INFINITY;
        const marks = await readActionLog(actionLog);
        const running = new Set(actionsInFlight(marks).filter((m) => m.atMs >= since).map((m) => m.pid));
        actedAt = marks.find((m) => m.phase === 'acted' && running.has(m.pid))?.atMs;
        if (actedAt === undefined) await sleep(100);
      }
      if (actedAt === undefined || !active()) break;
      const hostDies = i % 2 === 0;
      await sleep(Math.max(0, actedAt + between([0, Math.round(plan.action.afterMs * 0.7)]) - Date.now()));
      if (!node.running) continue;
      await inTurn(node.name, async () => {
        await snapshot(`kill of the agents ${cluster.elapsed()}`);
        const marks = await readActionLog(actionLog);
        // An orphan of an earlier kill that died without its exit mark (its pipe to the agent was gone) is not running.
        const running = actionsInFlight(marks).filter((m) => alive(m.pid));
        const acted = new Set(marks.filter((m) => m.phase === 'acted').map((m) => m.pid));
        await node.kill9(hostDies ? 'kill -9 with its action runs' : 'kill -9, its action runs left');
        const killedRuns = hostDies ? await killActionRuns(actionLog) : [];
        const what = running.map((m) => `${m.key} ${acted.has(m.pid) ? 'after' : 'before'} its effect`).join(', ') || 'no action running';
        cluster.recordKill('agent', hostDies ? `kill -9 of the host (${killedRuns.length} action runs killed)` : 'kill -9 of the agent process');
        cluster.note(`kill -9 of the agents (pid ${node.current?.pid ?? '?'})${hostDies ? ` and of ${killedRuns.length} action runs` : ', action runs left running'}: ${what}`);
        if (running.length > 0) agentKillsMidJob.push(what);
        await restart(node, []);
      });
    }
  };

  let people: People | undefined;
  let recoveryMs: number | undefined;
  let outcome: CheckOutcome | undefined;
  try {
    // Phase 1: split topology.
    await cluster.startDevServer();
    supervise(cluster.api, 'api', plan.api);
    supervise(cluster.worker, 'worker', plan.worker);
    supervise(cluster.agents, 'agent', []);
    // The API loads the example (keys file); the worker does not wait for it.
    await Promise.all([cluster.api.start(plan.api[0] ?? ''), cluster.worker.start(plan.worker[0] ?? '')]);
    // The agents' keys, issued once their parties exist (the example is loaded).
    await writeAgentKeys(env.db, dataDir);
    await cluster.agents.start();
    people = await People.fromDataDir(cluster.apiUrl, dataDir);
    people.allowed = new Set(['iam.grant-privileged', 'equipment.ship-laptop']);
    const phase1Start = Date.now();
    people.run();
    const runTag = `${plan.name}${plan.seed.toString(36)}`;
    let agentsActive = true;
    const agentMonkey = agentKills(() => agentsActive);
    await people.startBackups(plan.backups, runTag, Date.now() + 60_000);
    cluster.note(`${plan.backups} backup runs started`);
    await people.startOnboardings(plan.processes, runTag, Date.now() + 60_000);
    cluster.note(`${plan.processes} onboardings started`);
    let phase1 = true;
    const monkeys = [
      randomKills(cluster.worker, 'worker', plan.randomWorkerKills, plan.worker, () => phase1),
      (async () => {
        for (let i = 0; i < plan.devServerKills && phase1; i++) {
          await sleep(between(plan.randomKillAfterMs));
          await inTurn('dev-server', async () => {
            await snapshot(`dev server kill ${cluster.elapsed()}`);
            cluster.recordKill('dev-server', 'random kill -9');
            cluster.note(`kill -9 dev server (pids ${(await cluster.killDevServer9()).join(', ')})`);
            await sleep(between(plan.pauseMs));
            await cluster.startDevServer();
            lastRestartMs = Date.now();
          });
        }
      })(),
    ];
    const onboardings = people.employees.map((e) => e.processId);
    for (;;) {
      const waiting = await env.db.selectFrom('tasks').select(['process_id', 'step_key', 'status']).where('process_id', 'in', onboardings).where('status', 'in', ['open', 'completing']).execute();
      const confirming = new Set(waiting.filter((t) => t.step_key === 'onboarding.confirm' && t.status === 'open').map((t) => t.process_id));
      const busy = waiting.some((t) => t.status === 'completing');
      if (confirming.size === onboardings.length && !busy) {
        cluster.note(`phase 1 done in ${((Date.now() - phase1Start) / 1000).toFixed(1)}s: every process waits for its confirmation`);
        break;
      }
      if (Date.now() > Math.max(lastRestartMs, phase1Start) + plan.phase1Ms) {
        cluster.note(`phase 1 gave up ${plan.phase1Ms / 1000}s after its last restart: ${confirming.size}/${onboardings.length} processes wait for their confirmation, ${waiting.filter((t) => t.status === 'completing').length} tasks completing`);
        break;
      }
      await sleep(500);
    }
    phase1 = false;
    await Promise.all(monkeys);
    await allTurns();

    // Phase 2: the whole launcher, its own dev server on the same data file.
    cluster.note('phase 2: stopping the split topology (SIGTERM), starting the launcher (role all) on the same data dir');
    await cluster.api.stop();
    await cluster.worker.stop();
    await cluster.stopDevServer();
    supervise(cluster.launcher, 'launcher', plan.launcher);
    await cluster.launcher.start(plan.launcher[0] ?? '');
    lastRestartMs = Date.now();
    let phase2 = true;
    people.allowed.add('onboarding.confirm');
    const launcherMonkey = randomKills(cluster.launcher, 'launcher', plan.randomLauncherKills, plan.launcher, () => phase2);
    if (plan.backupsPhase2 > 0) {
      inPhase2 = true;
      await people.startBackups(plan.backupsPhase2, runTag, Date.now() + 120_000);
      cluster.note(`${plan.backupsPhase2} more backup runs started`);
    }
    const ids = processIds();

    // Settle: every process completed within settleMs of the last restart.
    for (;;) {
      await allTurns();
      const rows = await env.db.selectFrom('processes').select(['id', 'status']).where('id', 'in', ids).execute();
      const completed = rows.filter((r) => r.status === 'completed').length;
      // The database may show a process's ending a moment before its run closes: the ending's
      // write is an activity the history holds, and the workflow task that closes the run follows.
      if (completed === ids.length && (await allClosed(cluster.temporalAddress, ids))) {
        phase2 = false;
        agentsActive = false;
        await Promise.all([launcherMonkey, agentMonkey]);
        await allTurns();
        recoveryMs = Date.now() - lastRestartMs;
        // Which kind ended last (the database's ending times), to tell where recovery time goes.
        const ended = await env.db.selectFrom('processes').select(['id', 'ended_at']).where('id', 'in', ids).execute();
        const lastEnd = (of: { processId: string }[]) => Math.max(...ended.filter((r) => of.some((p) => p.processId === r.id)).map((r) => r.ended_at?.getTime() ?? 0));
        cluster.note(
          `all ${ids.length} processes completed ${(recoveryMs / 1000).toFixed(1)}s after the last restart (the last onboarding ended ${cluster.elapsed(lastEnd(people.employees))}` +
            `${people.backups.length > 0 ? `, the last backup run ${cluster.elapsed(lastEnd(people.backups))}` : ''})`,
        );
        break;
      }
      if (Date.now() > lastRestartMs + plan.settleMs) {
        cluster.note(`gave up waiting: ${completed}/${ids.length} completed ${plan.settleMs / 1000}s after the last restart`);
        break;
      }
      await sleep(500);
    }
    phase2 = false;
    agentsActive = false;
    await Promise.all([launcherMonkey, agentMonkey]);
    await allTurns();
    await people.stop();
    await cluster.agents.stop(5_000);

    // The checks, against the history of the dev server the launcher runs.
    const codec = new EncryptionCodec(parseCodecKeys(codecKeys));
    const connection = await Connection.connect({ address: cluster.temporalAddress });
    try {
      const client = new Client({ connection, namespace: 'default', dataConverter: { payloadCodecs: [codec] } });
      const deadWorkers = new Map<string, string>();
      for (const node of [cluster.worker, cluster.launcher, cluster.agents]) {
        for (const inc of node.incarnations) deadWorkers.set(String(inc.pid), `${node.name} pid ${inc.pid}, started ${cluster.elapsed(inc.startedAtMs)}, ${inc.end ? `ended ${cluster.elapsed(inc.endedAtMs)}: ${inc.end}` : 'still running'}`);
      }
      outcome = await checkInvariant({
        db: env.db, client, codec, employees: people.employees, backups: people.backups, ledger: people.ledger, snapshots, directoryFile, deadWorkers,
        agentsDir, actionMarks: await readActionLog(actionLog),
      });
      if (plan.agentKills > 0 && agentKillsMidJob.length === 0) outcome.failures.push(`the plan asked for ${plan.agentKills} kills of the agents while an action runs, and none happened while one ran`);
    } finally {
      await connection.close();
    }
  } finally {
    await people?.stop();
    await cluster.shutdown().catch((err: unknown) => env.say(`shutdown: ${String(err)}`));
  }

  if (!outcome) throw new Error('the chaos run ended without checks');
  const durationMs = Date.now() - startedAt;
  const kills = new Map<string, string[]>();
  for (const k of cluster.kills) kills.set(k.kind, [...(kills.get(k.kind) ?? []), k.how]);
  const f = outcome.figures;
  const summary =
    `chaos ${plan.name}: ${f.processes} processes (${f.completedInDb} completed in the DB, ${f.completedInTemporal} in Temporal); ` +
    `${cluster.kills.length} kills (${[...kills].map(([kind, hows]) => `${kind} ${hows.length}: ${hows.join(', ')}`).join('; ')}; ${agentKillsMidJob.length} agent kills mid-job); ` +
    `recovery ${recoveryMs === undefined ? `not within ${plan.settleMs / 1000}s` : `${(recoveryMs / 1000).toFixed(1)}s`} after the last restart; ` +
    `effects: ${f.directoryAccounts} directory accounts, ${f.directoryEffects} directory effects, ${f.engineActionsCompleted} engine actions completed, ${f.outboxRows} outbox rows, ${f.tasksDone} tasks done, ${f.journalEntries} journal entries; ` +
    `agents: ${f.backupRuns} backup runs, ${f.agentJobs} jobs (${f.agentJobsSucceeded} succeeded), ${f.agentRounds} pickups, ${f.agentSilent} offered again after silence, ${f.agentRetrying} after a retryable failure, ${f.actionRuns} action runs (${f.actionRunsRepeated} found their key done), ${f.backupFiles} backup files, ${f.backupsVerified} verified; ` +
    `${outcome.failures.length} failures; seed ${plan.seed}; ${(durationMs / 1000).toFixed(0)}s`;
  const timeline = cluster.timeline.map((t) => `${cluster.elapsed(t.atMs)} ${t.what}`);
  if (outcome.failures.length === 0) await rm(dataDir, { recursive: true, force: true });
  return { outcome, summary, timeline, dataDir, recoveryMs, durationMs };
}

/** Every process's latest run is closed in Temporal (a describe each; false when Temporal does not answer). */
async function allClosed(address: string, ids: string[]): Promise<boolean> {
  const connection = await Connection.connect({ address }).catch(() => undefined);
  if (!connection) return false;
  try {
    const client = new Client({ connection, namespace: 'default' });
    const running = await Promise.all(ids.map(async (id) => (await client.workflow.getHandle(id).describe()).status.name === 'RUNNING'));
    return !running.includes(true);
  } catch {
    return false;
  } finally {
    await connection.close();
  }
}
