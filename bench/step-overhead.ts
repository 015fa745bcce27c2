// What routing costs (docs/ARCHITECTURE.md "What a step may cost"): a process of N engine-action
// steps against a bare workflow of N activities, on one dev server and one database.
//
//   npm run bench:step-overhead   (env: BENCH_W=20 workflows × BENCH_N=10 steps,
//                                  BENCH_ROUNDS=3 rounds for A; B: BENCH_SPAWN_W=10 workflows,
//                                  BENCH_SPAWN_ROUNDS=2 rounds)
//
// The fair pair: both sides do the same work per step, so the ratio is routing alone.
//   noop   the action body does nothing: engine `runEngineAction` for action `noop` is a
//          bench-only implementation returning {}; the bare side calls an activity returning {}.
//          Routed pays everything else: contract slice, resolveStep, journal + outbox +
//          process state (recordStep local activity, real SQL). This is DESIGN's target.
//   spawn  both spawn bench/noop.mjs through the real action runner (params, argv, process),
//          a realistic floor for an engine action: routing next to the cheapest real work.
// Printed, not asserted: a laptop's figures vary; the ratio against 0.8 is what matters.
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/activity';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import { createEngineActivities, type StepRecord } from '../activities/engine';
import { runAction } from '../activities/action-runner';
import { parseEngineConfig } from '../config/engine-config';
import { registerProcess } from '../db/processes';
import type { Schema } from '../db/schema';
import { startDevServer } from '../scripts/dev-server';
import { findOrBuildTemporalCli } from '../scripts/temporal-cli';
import { loadContract } from '../scripts/load-example';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import type { ProcessStart } from '../workflows/definitions';
import { aContract, CLIENT, PROVIDER } from '../test/support/builders';
import { createTestDatabase } from '../test/support/db';
import { silentLog } from '../test/support/harness';
import type { ProbeStep } from '../test/support/test-workflows';
import type { BareActivities } from './workflows';

const W = Number(process.env.BENCH_W ?? 20);
const N = Number(process.env.BENCH_N ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
// Spawning dominates part B (a process per step): fewer rounds keep the whole run near a minute.
const SPAWN_ROUNDS = Number(process.env.BENCH_SPAWN_ROUNDS ?? 2);
const SPAWN_W = Number(process.env.BENCH_SPAWN_W ?? 10);
const TARGET = 0.8;
const here = path.dirname(fileURLToPath(import.meta.url));
const taskQueue = 'bench-step-overhead';
const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

type Mode = 'bare-noop' | 'routed-noop' | 'routed-noop-nojournal' | 'bare-spawn' | 'routed-spawn';

// --- SQL round trips per local activity: counted on pg's client, per activity call.
interface Probe { queries: number }
const probe = new AsyncLocalStorage<Probe>();
const clientProto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
const originalQuery = clientProto.query;
clientProto.query = function (this: unknown, ...args: unknown[]) {
  const p = probe.getStore();
  if (p) p.queries++;
  return originalQuery.apply(this, args);
};
interface CallStat { ms: number; queries: number; entries: number }
const stats = { recordStep: [] as CallStat[], loadContractSlice: [] as CallStat[], collecting: false };
async function measured<T>(into: CallStat[], entries: number, fn: () => Promise<T>): Promise<T> {
  const p: Probe = { queries: 0 };
  const t0 = performance.now();
  try {
    return await probe.run(p, fn);
  } finally {
    if (stats.collecting) into.push({ ms: performance.now() - t0, queries: p.queries, entries });
  }
}

// --- CPU per component (2 cores: throughput here is CPU): this process, the dev server, PostgreSQL.
interface Cpu { worker: number; temporal: number; postgres: number }
const TICK_MS = 10; // USER_HZ = 100 on Linux
async function procCpuMs(pid: string): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS; // utime, stime
  } catch {
    return 0;
  }
}
/** Per backend pid: backends of the bench database only (other databases' come and go). */
async function cpuSnapshot(temporalPid: number, db: Kysely<Schema>): Promise<{ worker: number; temporal: number; postgres: Map<number, number> }> {
  const backends = await sql<{ pid: number }>`select pid from pg_stat_activity where datname = current_database()`.execute(db);
  const postgres = new Map<number, number>();
  for (const { pid } of backends.rows) postgres.set(pid, await procCpuMs(String(pid)));
  const own = process.cpuUsage();
  return { worker: (own.user + own.system) / 1000, temporal: await procCpuMs(String(temporalPid)), postgres };
}

function contractFor(steps: number) {
  return aContract()
    .with((c) => {
      c.id = 'ctr-bench';
      for (let i = 1; i <= steps; i++) {
        // One activity key per step: the action's idempotency key is `<processId>:<activityKey>`.
        c.responsibilities[`bench.noop-${i}`] = { R: { party: PROVIDER, by: 'engine', action: 'noop' }, A: PROVIDER, I: [CLIENT] };
        c.responsibilities[`bench.spawn-${i}`] = { R: { party: PROVIDER, by: 'engine', action: 'noop-program' }, A: PROVIDER, I: [CLIENT] };
      }
    })
    .build();
}

async function engineConfig() {
  const dir = await mkdtemp(path.join(tmpdir(), 'mandate-bench-'));
  const file = path.join(dir, 'engine.yaml');
  const text = `
actions:
  noop:          # never run: the bench answers it in runEngineAction (see the header)
    program: node
    args: [${JSON.stringify(path.join(here, 'noop.mjs'))}]
  noop-program:
    program: node
    args: [${JSON.stringify(path.join(here, 'noop.mjs'))}]
    timeout: PT30S
`;
  await writeFile(file, text);
  return parseEngineConfig(text, file);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const fixed = (x: number, d = 1) => x.toFixed(d);

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const [cliPath, bundle] = await Promise.all([
    findOrBuildTemporalCli({ log }),
    bundleWorkflowCode({ workflowsPath: path.join(here, 'bench-workflows.ts'), logger: new DefaultLogger('ERROR') }),
  ]);
  const server = await startDevServer({ cliPath, uiPort: false, searchAttributes: SEARCH_ATTRIBUTES, log });
  const database = await createTestDatabase({ maxConnections: 10 });
  let connection: Connection | undefined;
  let nativeConnection: NativeConnection | undefined;
  try {
    const contract = contractFor(N);
    await loadContract(database.db, contract);
    const config = await engineConfig();
    const engine = createEngineActivities({ db: database.db, actions: config.actions, actionsDir: config.configDir, log: silentLog });
    const spawnDef = config.actions['noop-program']!;
    const bareActivities: BareActivities = {
      noop: async () => ({}),
      async noopProgram(idempotencyKey) {
        const r = await runAction('noop-program', spawnDef, {}, { idempotencyKey, configDir: config.configDir });
        if (!r.ok) throw ApplicationFailure.create({ message: r.reason, nonRetryable: !r.retryable });
        return r.output;
      },
    };
    // Diagnostic mode: the same workflow with the journal write answered at once.
    const writeRecord = (record: StepRecord): Promise<void> =>
      record.processId.includes(':nojournal-') ? Promise.resolve() : measured(stats.recordStep, record.entries.length, () => engine.recordStep(record));
    const activities = {
      ...engine,
      ...bareActivities,
      // The no-op action still pays what routing costs: the journal record the step carries.
      runEngineAction: async (input: Parameters<typeof engine.runEngineAction>[0]) => {
        if (input.action !== 'noop') return engine.runEngineAction(input);
        if (input.record) await writeRecord(input.record);
        return {};
      },
      recordStep: writeRecord,
      loadContractSlice: (input: Parameters<typeof engine.loadContractSlice>[0]) => measured(stats.loadContractSlice, 0, () => engine.loadContractSlice(input)),
    };

    connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection, namespace: 'default' });
    nativeConnection = await NativeConnection.connect({ address: server.address });
    const worker = await Worker.create({ connection: nativeConnection, taskQueue, workflowBundle: bundle, activities });

    let seq = 0;
    const requester = { userId: 'u-cab', partyId: CLIENT };
    /** Starts `count` workflows of a mode at once and waits for all; registration is done before the clock starts. */
    async function round(mode: Mode, count: number): Promise<{ ms: number; ids: string[] }> {
      const kind = mode.startsWith('bare') ? 'bare' : 'routed';
      const stepKey = mode.endsWith('spawn') ? 'bench.spawn' : 'bench.noop';
      const runs = Array.from({ length: count }, () => {
        const businessKey = `${mode === 'routed-noop-nojournal' ? 'nojournal' : mode}-${++seq}`;
        return { businessKey, id: `mandate:${contract.id}:step-probe:${businessKey}` };
      });
      if (kind === 'routed') {
        for (const r of runs) {
          await registerProcess(database.db, { id: r.id, contractId: contract.id, contractVersion: 1, processType: 'step-probe', businessKey: r.businessKey, requestedBy: requester.userId, requestedByParty: requester.partyId });
        }
      }
      const steps: ProbeStep[] = Array.from({ length: N }, (_, i) => ({ key: `${stepKey}-${i + 1}` }));
      const t0 = performance.now();
      await Promise.all(runs.map((r) => {
        if (kind === 'bare') {
          return client.workflow.execute('bareSteps', { workflowId: r.id, taskQueue, args: [{ steps: N, activity: mode === 'bare-spawn' ? 'noopProgram' : 'noop' }] });
        }
        const start: ProcessStart<{ steps: ProbeStep[] }> = { contractId: contract.id, version: 1, processType: 'step-probe', businessKey: r.businessKey, requestedBy: requester, input: { steps } };
        return client.workflow.execute('stepProbe', { workflowId: r.id, taskQueue, args: [start] });
      }));
      return { ms: performance.now() - t0, ids: runs.map((r) => r.id) };
    }

    const times: Record<Mode, number[]> = { 'bare-noop': [], 'routed-noop': [], 'routed-noop-nojournal': [], 'bare-spawn': [], 'routed-spawn': [] };
    const sampleIds: Partial<Record<Mode, string>> = {};
    const cpu = Object.fromEntries(Object.keys(times).map((m) => [m, { worker: 0, temporal: 0, postgres: 0 }])) as Record<Mode, Cpu>;
    // Each group's modes take turns going first, so none always meets a warmer or busier server.
    // routed-noop-nojournal is a diagnostic: the same workflow with the journal write answered at once.
    const groups: { modes: Mode[]; rounds: number }[] = [
      { modes: ['bare-noop', 'routed-noop', 'routed-noop-nojournal'], rounds: ROUNDS },
      { modes: ['bare-spawn', 'routed-spawn'], rounds: SPAWN_ROUNDS },
    ];
    const benchStarted = performance.now();
    await worker.runUntil(async () => {
      log(`warm-up, then rounds of ${N}-step workflows: A ${ROUNDS} × ${W} per mode, B ${SPAWN_ROUNDS} × ${SPAWN_W}`);
      // Warm-up: JIT, workflow cache, pg pool; a full-size round for the A modes, whose rounds are short.
      for (const mode of Object.keys(times) as Mode[]) await round(mode, mode.endsWith('spawn') ? 2 : W);
      for (const { modes, rounds } of groups) {
        for (let r = 0; r < rounds; r++) {
          for (const mode of [...modes.slice(r % modes.length), ...modes.slice(0, r % modes.length)]) {
            stats.collecting = mode === 'routed-noop';
            const size = mode.endsWith('spawn') ? SPAWN_W : W;
            const before = await cpuSnapshot(server.pid, database.db);
            const { ms, ids } = await round(mode, size);
            const after = await cpuSnapshot(server.pid, database.db);
            stats.collecting = false;
            cpu[mode].worker += after.worker - before.worker;
            cpu[mode].temporal += after.temporal - before.temporal;
            for (const [pid, ms] of after.postgres) cpu[mode].postgres += ms - (before.postgres.get(pid) ?? 0);
            times[mode].push(ms);
            sampleIds[mode] ??= ids[0];
          }
        }
      }
    });
    const benchSeconds = (performance.now() - benchStarted) / 1000;

    const events = async (mode: Mode) => (sampleIds[mode] ? (await client.workflow.getHandle(sampleIds[mode]).fetchHistory()).events?.length ?? 0 : 0);
    // Idle costs, one call at a time: a journal write like conclude()'s, and a contract slice.
    const idleId = sampleIds['routed-noop']!;
    const idleRecord: number[] = [];
    const head = await database.db.selectFrom('journal').select((eb) => eb.fn.max('seq').as('seq')).where('process_id', '=', idleId).executeTakeFirstOrThrow();
    for (let i = 0; i < 30; i++) {
      const seq = Number(head.seq) + 1 + i * 3;
      const entries = [0, 1, 2].map((k) => ({ seq: seq + k, at: new Date().toISOString(), stepKey: 'bench.noop-1', event: `bench.idle-${k}`, partyId: PROVIDER, data: { k } }));
      const t0 = performance.now();
      await engine.recordStep({ processId: idleId, entries, outbox: [{ effectKey: `${idleId}:idle:${i}`, partyId: CLIENT, event: 'bench.idle', payload: {} }], process: { currentStep: null } });
      idleRecord.push(performance.now() - t0);
    }
    const idleSlice: number[] = [];
    for (let i = 0; i < 30; i++) {
      const t0 = performance.now();
      await engine.loadContractSlice({ contractId: contract.id, version: 1, activityKeys: Array.from({ length: N }, (_, k) => `bench.noop-${k + 1}`) });
      idleSlice.push(performance.now() - t0);
    }
    const rtt: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t0 = performance.now();
      await database.db.selectNoFrom((eb) => eb.lit(1).as('one')).execute();
      rtt.push(performance.now() - t0);
    }

    const sizeOf = (mode: Mode) => (mode.endsWith('spawn') ? SPAWN_W : W);
    const stepsPerSec = (mode: Mode) => (sizeOf(mode) * N) / (median(times[mode]) / 1000);
    const line = (label: string, mode: Mode) =>
      `  ${label.padEnd(44)} ${fixed(stepsPerSec(mode)).padStart(8)} steps/s   (median of ${times[mode].map((t) => `${fixed(t / 1000, 2)}s`).join(', ')})`;
    const ratio = (a: Mode, b: Mode) => stepsPerSec(b) / stepsPerSec(a);
    const verdict = (x: number) => (x >= TARGET ? `meets the ${TARGET} target` : `below the ${TARGET} target`);
    const rec = stats.recordStep;
    const slice = stats.loadContractSlice;
    const out = [
      '',
      `Step overhead: ${N} steps per workflow, concurrent workflows per round A ${W} (${ROUNDS} rounds per mode), B ${SPAWN_W} (${SPAWN_ROUNDS} rounds), after a warm-up; one dev server (in memory), one PostgreSQL database, one worker, no payload codec.`,
      '',
      'A. DESIGN target: N engine-action steps with a no-op action vs N no-op activities',
      line('bare: N no-op activities', 'bare-noop'),
      line('routed: stepProbe, N engine steps (noop)', 'routed-noop'),
      `  ratio routed/bare = ${fixed(ratio('bare-noop', 'routed-noop'), 2)}  (${verdict(ratio('bare-noop', 'routed-noop'))})`,
      '',
      'B. Same pair, each step spawning bench/noop.mjs through the action runner (cheapest real work)',
      line('bare: N activities spawning noop.mjs', 'bare-spawn'),
      line('routed: N engine steps, action noop-program', 'routed-spawn'),
      `  ratio routed/bare = ${fixed(ratio('bare-spawn', 'routed-spawn'), 2)}  (${verdict(ratio('bare-spawn', 'routed-spawn'))})`,
      '',
      'Where the routed time goes (A)',
      line('routed, journal write answered at once', 'routed-noop-nojournal'),
      `  ratio (no journal)/bare = ${fixed(ratio('bare-noop', 'routed-noop-nojournal'), 2)}: what the workflow side alone costs`,
      '  CPU per step, ms (this process = worker + client; spawned programs not counted):',
      ...(['bare-noop', 'routed-noop', 'routed-noop-nojournal'] as const).map((m) => {
        const per = (k: keyof Cpu) => fixed(cpu[m][k] / (times[m].length * W * N), 2);
        return `    ${m.padEnd(24)} worker ${per('worker')}  temporal ${per('temporal')}  postgres ${per('postgres')}`;
      }),
      `  history events per workflow: bare ${await events('bare-noop')}, routed ${await events('routed-noop')} (N=${N})`,
      `  recordStep (journal local activity): ${fixed(rec.length / Math.max(1, times['routed-noop'].length * W), 1)} calls per workflow, ` +
        `${fixed(mean(rec.map((c) => c.queries)), 1)} SQL round trips per call (max ${Math.max(0, ...rec.map((c) => c.queries))}), ` +
        `${fixed(mean(rec.map((c) => c.entries)), 1)} journal entries per call, ${fixed(mean(rec.map((c) => c.ms)), 1)} ms mean, ${fixed(median(rec.map((c) => c.ms)), 1)} ms median under load`,
      `  loadContractSlice: ${fixed(mean(slice.map((c) => c.queries)), 1)} SQL round trips, ${fixed(mean(slice.map((c) => c.ms)), 1)} ms mean`,
      `  idle, one at a time: recordStep (3 entries + outbox + process) ${fixed(median(idleRecord), 2)} ms, loadContractSlice ${fixed(median(idleSlice), 2)} ms, PostgreSQL round trip (SELECT 1) ${fixed(median(rtt), 2)} ms (medians)`,
      '',
      `(measured part: ${fixed(benchSeconds, 1)}s)`,
    ];
    process.stdout.write(out.join('\n') + '\n');
  } finally {
    await nativeConnection?.close();
    await connection?.close();
    await database.drop();
    await server.stop();
  }
}

await main();
