// Issue 11's chaos test: kill -9 of the worker, of the API and of the whole launcher with its
// dev server, at deliberate crash points and at random, while people complete onboarding
// tasks through the API and party agents back up VMs (kill -9 of the agents' host mid-job);
// then the database must say what Temporal's history holds (or a
// prefix the engine completes on its own). `npm test` runs the light plan;
// `npm run test:chaos` (MANDATE_CHAOS_LONG=1) the long one. MANDATE_CHAOS_SEED replays a run.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { runChaos, type ChaosPlan } from './scenario';

const long = process.env.MANDATE_CHAOS_LONG === '1';
const seed = Number(process.env.MANDATE_CHAOS_SEED ?? Math.floor(Math.random() * 1_000_000));
const randomIn = (min: number, max: number) => min + ((seed * 7919) % (max - min + 1));

const light: ChaosPlan = {
  name: 'light',
  processes: 6,
  // The worker dies once right after a step record commits; the API once right after a claim.
  worker: [`record.committed@${randomIn(3, 14)}`],
  api: ['task.claimed@1'],
  // The launcher dies at its first step record: the first confirmation's update handler.
  launcher: ['record.committed@1'],
  randomWorkerKills: 0,
  devServerKills: 0,
  randomLauncherKills: 0,
  // Two backup runs (6 agent jobs); the agents' host dies once mid-action, with its action runs.
  backups: 2,
  backupsPhase2: 0,
  agentKills: 1,
  action: { beforeMs: 1_500, afterMs: 1_500 },
  phase1Ms: 45_000,
  settleMs: 50_000,
  pauseMs: [500, 1500],
  randomKillAfterMs: [2_000, 6_000],
  seed,
};

const heavy: ChaosPlan = {
  name: 'long',
  processes: 30,
  worker: [`record.committed@${randomIn(5, 25)}`, `record.committed@${randomIn(3, 20)}`],
  // The first API dies at its second agent pickup, taken in the database and never told.
  api: ['agent.taken@2', 'task.claimed@3', 'task.claimed@12'],
  launcher: ['record.committed@1'],
  randomWorkerKills: 2,
  devServerKills: 1,
  randomLauncherKills: 1,
  backups: 4,
  backupsPhase2: 4,
  agentKills: 4,
  action: { beforeMs: 2_000, afterMs: 2_000 },
  phase1Ms: 120_000,
  settleMs: 180_000,
  pauseMs: [500, 2000],
  randomKillAfterMs: [8_000, 15_000],
  seed,
};

const plan = long ? heavy : light;
let database: TestDatabase;
let keepDatabase = false;

beforeAll(async () => {
  database = await createTestDatabase();
});

afterAll(async () => {
  // A failed run's database stays for the post-mortem, next to its data dir.
  if (keepDatabase) await database?.database.close();
  else await database?.drop();
});

describe(`chaos (${plan.name}: ${plan.processes} onboardings, ${plan.backups + plan.backupsPhase2} backup runs)`, () => {
  it(
    'when the worker, the API, the whole launcher and the agents are killed -9 mid-flight, then every process completes, each effect happens once and the database says what the history holds',
    async () => {
      const say = (line: string) => process.stderr.write(`${line}\n`);
      const report = await runChaos(plan, { db: database.db, databaseUrl: database.url, workflowBundlePath: inject('workflowBundlePath') || undefined, say });
      say(report.summary);
      for (const note of report.outcome.notes) say(`note: ${note}`);
      if (report.outcome.failures.length > 0) {
        say(`timeline:\n  ${report.timeline.join('\n  ')}`);
        keepDatabase = true;
        say(`logs, data dir and codec key kept in ${report.dataDir}; database kept: ${database.url}`);
      }
      expect(report.outcome.failures, report.summary).toEqual([]);
    },
    long ? 30 * 60_000 : 6 * 60_000,
  );
});
