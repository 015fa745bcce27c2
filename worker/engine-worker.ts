// The engine worker: runs every process workflow and the engine activities on the
// `mandate-engine` task queue. More workers on the same queue scale out.
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Schema } from '../db/schema';
import type { PayloadCodec } from '@temporalio/common';
import type { EngineConfig } from '../config/engine-config';
import { Client, Connection } from '@temporalio/client';
import { FAILURE_CONVERTER_PATH } from '../temporal/failure-converter-path';
import { attachSigner, signingInterceptor, type ActSigner } from '../temporal/signing';
import { createEngineActivities } from '../activities/engine';
import { agentJobPickedUpSignal } from '../workflows/definitions';
import { createProcessActivities } from '../activities/processes';
import { createBackupActivities } from '../activities/backups';

export interface EngineWorkerOptions {
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
  db: Kysely<Schema>;
  engineConfig: EngineConfig;
  codec: PayloadCodec;
  /** The deployment's signing keys: the worker's own starts are signed, runs check signatures with their public keys. */
  signer?: ActSigner;
  log: Logger;
  /** A prebuilt bundle (tests build one per run); otherwise workflows/index.ts is bundled. */
  workflowBundlePath?: string;
  tuning?: Partial<Pick<WorkerOptions, 'maxConcurrentActivityTaskExecutions' | 'maxConcurrentWorkflowTaskExecutions' | 'maxCachedWorkflows'>>;
  /** How long shutdown() lets running tasks finish, then gives up on them (the launcher's grace). */
  shutdown?: Pick<WorkerOptions, 'shutdownGraceTime' | 'shutdownForceTime'>;
}

export interface EngineWorker {
  worker: Worker;
  /** Resolves when the worker stopped; rejects if it crashed. */
  running: Promise<void>;
  shutdown(): Promise<void>;
}

export async function startEngineWorker(opts: EngineWorkerOptions): Promise<EngineWorker> {
  const connection = await NativeConnection.connect({ address: opts.temporalAddress });
  // Processes that start processes (a failed backup opens an incident) do it through a client.
  const clientConnection = await Connection.connect({ address: opts.temporalAddress });
  const client = attachSigner(
    new Client({
      connection: clientConnection,
      namespace: opts.namespace,
      dataConverter: { payloadCodecs: [opts.codec], failureConverterPath: FAILURE_CONVERTER_PATH },
      interceptors: { workflow: opts.signer ? [signingInterceptor(opts.signer)] : [] },
    }),
    opts.signer,
  );
  const activities = {
    ...createEngineActivities({
      db: opts.db,
      actions: opts.engineConfig.actions,
      actionsDir: opts.engineConfig.configDir,
      log: opts.log.child({ component: 'engine-actions' }),
      signingKeys: opts.signer?.publicKeys ?? [],
      tellPickup: async (processId, pickup) => {
        await client.workflow.getHandle(processId).signal(agentJobPickedUpSignal, pickup);
      },
    }),
    ...createProcessActivities({ db: opts.db, client, taskQueue: opts.taskQueue }),
    ...createBackupActivities({ db: opts.db }),
  };
  const workflowSource = opts.workflowBundlePath
    ? { workflowBundle: { codePath: opts.workflowBundlePath } }
    : { workflowsPath: fileURLToPath(new URL('../workflows/index.ts', import.meta.url)) };
  const worker = await Worker.create({
    connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    activities,
    // Failure messages are encrypted too (temporal/failure-converter.ts); a prebuilt bundle was built with it.
    dataConverter: { payloadCodecs: [opts.codec], failureConverterPath: FAILURE_CONVERTER_PATH },
    ...workflowSource,
    ...opts.tuning,
    ...opts.shutdown,
  });
  const running = worker.run().finally(async () => {
    await connection.close();
    await clientConnection.close();
  });
  return {
    worker,
    running,
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    },
  };
}
