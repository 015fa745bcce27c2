// Helpers for tests that talk to the run's Temporal server (see temporal-global-setup.ts).
import { randomBytes } from 'node:crypto';
import { basename } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker, type LogLevel, type WorkerOptions } from '@temporalio/worker';
import { inject } from 'vitest';

export const TEST_NAMESPACE = 'default';

export interface TestClient {
  connection: Connection;
  client: Client;
  close(): Promise<void>;
}

/** A client on the run's server; call close() in afterAll. */
export async function connectTestClient(): Promise<TestClient> {
  const connection = await Connection.connect({ address: inject('temporalAddress') });
  const client = new Client({ connection, namespace: TEST_NAMESPACE });
  return { connection, client, close: () => connection.close() };
}

/**
 * A task queue no other test file uses: `t-<name>-<random>`.
 * Pass `import.meta.url`, a file path or a short name.
 */
export function taskQueueFor(fileOrName: string): string {
  const name = basename(fileOrName.replace(/^file:\/\//, ''))
    .replace(/\.(test|spec)\.[cm]?[jt]s$/, '')
    .replace(/\.[cm]?[jt]s$/, '')
    .replace(/[^A-Za-z0-9-]+/g, '-')
    .slice(0, 40);
  return `t-${name}-${randomBytes(4).toString('hex')}`;
}

let runtimeInstalled = false;
/** Quiet SDK logs in tests (MANDATE_TEST_LOG_LEVEL=INFO to see them); first caller wins. */
export function installQuietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const level = (process.env.MANDATE_TEST_LOG_LEVEL ?? 'WARN').toUpperCase() as LogLevel;
  try {
    Runtime.install({ logger: new DefaultLogger(level) });
  } catch {
    // A runtime already exists (the test file installed its own): keep it.
  }
}

export type TestWorkerOptions = Omit<WorkerOptions, 'connection' | 'namespace'> & { namespace?: string };

/**
 * Runs `fn` while a worker polls `opts.taskQueue`, then shuts the worker down and closes its
 * native connection (an open one keeps vitest from exiting). Workflows come from the run's
 * bundle of workflows/index.ts unless `opts` gives `workflowsPath` or `workflowBundle`.
 */
export async function withWorker<T>(opts: TestWorkerOptions, fn: (worker: Worker) => Promise<T>): Promise<T> {
  installQuietRuntime();
  const ownWorkflows = opts.workflowsPath !== undefined || opts.workflowBundle !== undefined;
  const codePath = inject('workflowBundlePath');
  if (!ownWorkflows && !codePath && opts.activities === undefined) {
    throw new Error(`withWorker: no workflow bundle for this run. ${inject('workflowBundleError')}`);
  }
  const connection = await NativeConnection.connect({ address: inject('temporalAddress') });
  try {
    const worker = await Worker.create({
      namespace: TEST_NAMESPACE,
      ...(ownWorkflows || !codePath ? {} : { workflowBundle: { codePath } }),
      ...opts,
      connection,
    });
    return await worker.runUntil(() => fn(worker));
  } finally {
    await connection.close();
  }
}
