// What a workflow test file runs against: a fresh database with its contracts, a client on
// the run's Temporal server, and a worker of the bundled workflows with the engine activities
// (and the file's own beside them) polling a task queue of its own.
import type { Client } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Kysely } from 'kysely';
import { inject } from 'vitest';
import { createEngineActivities } from '../../activities/engine';
import { agentJobPickedUpSignal } from '../../workflows/definitions';
import type { completeTask } from '../../api/services/tasks';
import type { EngineConfig } from '../../config/engine-config';
import type { Schema } from '../../db/schema';
import type { Contract } from '../../domain/contract';
import { createTestDatabase, type TestDatabase } from './db';
import { seedContract, silentLog, testEngineConfig } from './harness';
import { connectTestClient, installQuietRuntime, taskQueueFor, type TestClient } from './temporal';

/** What the file's own activities are built from. */
export interface WorldDeps {
  db: Kysely<Schema>;
  client: Client;
  taskQueue: string;
}

export interface EngineWorldOptions {
  /** The test file's `import.meta.url`: names its task queue. */
  testFile: string;
  /** Seeded, in order, before the worker starts. */
  contract?: Contract | readonly Contract[];
  /** The actions engine steps may run: the example ones of testEngineConfig() unless given. */
  engineConfig?: EngineConfig;
  /** Activities beside the engine's (a name they share is theirs). */
  activities?: (deps: WorldDeps) => object;
}

export interface EngineWorld extends WorldDeps {
  database: TestDatabase;
  temporal: TestClient;
  /** What completeTask takes, as the API passes it. */
  deps(): Parameters<typeof completeTask>[0];
  /** Shuts the worker down, closes the connections and drops the database. */
  stop(): Promise<void>;
}

export async function startEngineWorld(options: EngineWorldOptions): Promise<EngineWorld> {
  const taskQueue = taskQueueFor(options.testFile);
  let database: TestDatabase | undefined;
  let temporal: TestClient | undefined;
  let nativeConnection: NativeConnection | undefined;
  let worker: Worker | undefined;
  let workerRun: Promise<void> | undefined;
  const stop = async () => {
    worker?.shutdown();
    await workerRun;
    await nativeConnection?.close();
    await temporal?.close();
    await database?.drop();
  };
  try {
    installQuietRuntime();
    database = await createTestDatabase();
    const db = database.db;
    for (const contract of [options.contract ?? []].flat()) await seedContract(db, contract);
    const engineConfig = options.engineConfig ?? (await testEngineConfig()).config;
    temporal = await connectTestClient();
    const client = temporal.client;
    nativeConnection = await NativeConnection.connect({ address: inject('temporalAddress') });
    worker = await Worker.create({
      connection: nativeConnection,
      taskQueue,
      workflowBundle: { codePath: inject('workflowBundlePath') },
      activities: {
        ...createEngineActivities({
          db,
          actions: engineConfig.actions,
          actionsDir: engineConfig.configDir,
          log: silentLog,
          // As the engine worker does (worker/engine-worker.ts).
          tellPickup: async (processId, pickup) => {
            await client.workflow.getHandle(processId).signal(agentJobPickedUpSignal, pickup);
          },
        }),
        ...options.activities?.({ db, client, taskQueue }),
      },
    });
    workerRun = worker.run();
    return {
      database,
      db,
      temporal,
      client,
      taskQueue,
      deps: () => ({ db, client, log: silentLog, updateWaitMs: 10_000 }),
      stop,
    };
  } catch (error) {
    // A half-built world is torn down here: no afterAll has it to stop.
    await stop().catch(() => undefined);
    throw error;
  }
}
