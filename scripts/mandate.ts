// Composes a Mandate deployment: Temporal (embedded dev server or remote), the database
// (PGlite or PostgreSQL), the engine worker, the outbox dispatcher and the API.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import type { Logger } from 'pino';
import type { AppConfig } from '../config/app-config';
import { loadEngineConfig, monitoringSecrets, webhookSecret } from '../config/engine-config';
import { openDatabase, type Database } from '../db/connection';
import { listContractsForParty } from '../db/contracts';
import { createSecretBox } from '../db/secret-box';
import { EncryptionCodec, newCodecKeySpec, parseCodecKeys } from '../temporal/codec';
import { connectTemporal, type TemporalHandle } from '../temporal/client';
import { ActSigner, newSigningKeySpec, parseSigningKeys } from '../temporal/signing';
import { startEngineWorker, type EngineWorker } from '../worker/engine-worker';
import { createOutboxDispatcher, subscriptionEndpoints, type OutboxDispatcher } from '../worker/outbox-dispatcher';
import { unverifiedPayloadCounter, workerTelemetry } from '../worker/metrics';
import { createApp } from '../api/app';
import { createPrincipalCache } from '../api/principal-cache';
import { API_KEY_CHANNEL } from '../db/notifications';
import { findProviderParty } from '../db/parties';
import { createLogger } from '../api/observability';
import { reconcileCompletingTasks, redeliverLostCompletions } from '../api/services/tasks';
import { reconcileClosedProcesses } from '../api/services/process-reconciler';
import { reofferSilentPickups } from '../api/services/agent-jobs';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { findOrBuildTemporalCli } from './temporal-cli';
import { DevServerStartError, registerSearchAttributes, startDevServer, type DevServer } from './dev-server';
import { assertPortsFree, clearStaleDevServer, portInUseError } from './dev-server-guard';
import { runStopSteps, type StopOutcome, type StopStep } from './shutdown';
import { startExampleAgents } from '../agent/example-agents';
import { issueExampleKeys, loadContract, readContractFile, registerExampleRunbooks, writeKeysFile, type ExampleKey } from './load-example';
import { syncContractSchedules } from '../temporal/schedules';

export interface MandateOptions {
  config: AppConfig;
  log?: Logger;
  /** Tests pass a prebuilt workflow bundle; otherwise the worker bundles at start. */
  workflowBundlePath?: string;
  exampleContract?: string;
  /** Create the example contract's Temporal Schedules on first load (default: with the embedded dev server only). */
  syncExampleSchedules?: boolean;
}

export interface Mandate {
  apiUrl?: string;
  temporalAddress: string;
  temporalUiUrl?: string;
  exampleKeys: ExampleKey[];
  database: Database;
  /** Stops everything within MANDATE_SHUTDOWN_GRACE; what had to be forced is in the outcome. */
  stop(): Promise<StopOutcome>;
}

export async function startMandate(opts: MandateOptions): Promise<Mandate> {
  const { config } = opts;
  const log = opts.log ?? createLogger(config.LOG_LEVEL);
  installSdkRuntime(log, config.MANDATE_ROLE !== 'api' ? config.MANDATE_WORKER_METRICS_ADDRESS : undefined);
  const dataDir = path.resolve(config.MANDATE_DATA_DIR);
  await mkdir(dataDir, { recursive: true });
  // Stopped in reverse: HTTP (in-flight requests finish), worker (drains), dispatcher,
  // Temporal client, database, dev server, all within the grace period; past it the dev server
  // is killed and the rest left to the process exit. Stopping twice waits for the first stop.
  const graceMs = config.MANDATE_SHUTDOWN_GRACE;
  const stops: StopStep[] = [];
  let devServer: DevServer | undefined;
  let stopping: Promise<StopOutcome> | undefined;
  const stop = () => (stopping ??= runStopSteps([...stops].reverse(), graceMs, log, () => devServer?.kill()));

  try {
    const engineConfig = loadEngineConfig(config.MANDATE_ENGINE_CONFIG);
    const codecKeys = parseCodecKeys(config.MANDATE_CODEC_KEYS ?? (await localCodecKeys(dataDir, log)));
    const codec = new EncryptionCodec(codecKeys, { requireBinding: config.MANDATE_CODEC_REQUIRE_BINDING, onUnverified: unverifiedPayloadCounter(log.child({ component: 'codec' })) });
    // Acts carrying a person's identity are signed with it (temporal/signing.ts); the worker checks them.
    const signer = new ActSigner(parseSigningKeys(config.MANDATE_SIGNING_KEYS ?? (await localSigningKeys(dataDir, log))));
    // Webhook secrets and replayable responses are sealed at rest with keys derived from these.
    const secretBox = createSecretBox(codecKeys);

    let temporalAddress = config.TEMPORAL_ADDRESS;
    if (!temporalAddress) {
      const cliPath = await findOrBuildTemporalCli({ log: (line: string) => log.info(line) });
      const server = await startEmbeddedTemporal(config, dataDir, cliPath, log);
      devServer = server;
      // SIGKILL a little before the deadline, so that its exit is seen within the grace period.
      stops.push({ name: 'Temporal dev server', run: (remainingMs) => server.stop(Math.max(remainingMs - 500, 100)) });
      temporalAddress = server.address;
    } else {
      const connection = await Connection.connect({ address: temporalAddress });
      try {
        await registerSearchAttributes(connection, config.TEMPORAL_NAMESPACE, SEARCH_ATTRIBUTES);
      } finally {
        await connection.close();
      }
    }

    const database = await openDatabase({ url: config.DATABASE_URL, dataDir, log });
    stops.push({ name: 'database', run: () => database.close() });

    const temporal: TemporalHandle = await connectTemporal({ address: temporalAddress, namespace: config.TEMPORAL_NAMESPACE, taskQueue: config.MANDATE_TASK_QUEUE, codec, signer });
    stops.push({ name: 'Temporal client', run: () => temporal.close() });

    let exampleKeys: ExampleKey[] = [];
    if (config.MANDATE_LOAD_EXAMPLES && opts.exampleContract !== '') {
      // The one-machine setup also gets the example's schedules; a shared server (tests) does not.
      const schedules = opts.syncExampleSchedules ?? !config.TEMPORAL_ADDRESS;
      exampleKeys = await loadExampleOnce(database, opts.exampleContract ?? 'examples/contract.yaml', dataDir, log, schedules ? temporal : undefined);
    }

    if (config.MANDATE_ROLE !== 'api') {
      const dispatcher: OutboxDispatcher = createOutboxDispatcher({
        db: database.db,
        log: log.child({ component: 'outbox' }),
        // The party's webhook subscriptions; without any, the engine configuration's target.
        endpointsFor: subscriptionEndpoints({
          db: database.db,
          secretBox,
          fallback: (partyId) => {
            const target = engineConfig.webhooks?.[partyId];
            const secret = target && webhookSecret(target);
            return target && secret ? { url: target.url, secret } : undefined;
          },
        }),
      });
      dispatcher.start();
      stops.push({ name: 'outbox dispatcher', run: () => dispatcher.stop() });

      const worker: EngineWorker = await startEngineWorker({
        temporalAddress,
        namespace: config.TEMPORAL_NAMESPACE,
        taskQueue: config.MANDATE_TASK_QUEUE,
        db: database.db,
        engineConfig,
        codec,
        signer,
        log,
        workflowBundlePath: opts.workflowBundlePath,
        // Running activities are cancelled after a third of the grace period; past half of it the
        // worker gives up on them (a local activity retrying forever would otherwise hold it).
        shutdown: { shutdownGraceTime: Math.round(graceMs / 3), shutdownForceTime: Math.round(graceMs / 2) },
      });
      stops.push({ name: 'engine worker', run: () => worker.shutdown() });
      worker.running.catch((err: unknown) => {
        if (!stopping) log.fatal({ err }, 'engine worker stopped');
      });
    }

    let apiUrl: string | undefined;
    if (config.MANDATE_ROLE !== 'worker') {
      // Authentication from memory while key changes are heard (a revocation anywhere counts at once).
      const principalCache = createPrincipalCache();
      const keyChanges = await database.listen(API_KEY_CHANNEL, principalCache);
      stops.push({ name: 'API key listener', run: () => keyChanges.stop() });
      const apiDeps = { db: database.db, temporal, log, adminKey: config.MANDATE_ADMIN_KEY, secretBox, principalCache, monitoringSecrets: (contractId: string) => monitoringSecrets(engineConfig, contractId) };
      const server = await listen(createApp(apiDeps), config.PORT);
      stops.push({ name: 'API (in-flight requests)', run: () => closeServer(server, Math.min(SHUTDOWN_GRACE_MS, graceMs / 3), log) });
      const address = server.address();
      apiUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : config.PORT}`;
      // Completions the workflow did not confirm in time are delivered again, same update id.
      // Processes closed with Temporal's own tools: the database follows (a full pass at start).
      const closed = (since?: Date) => reconcileClosedProcesses({ db: apiDeps.db, client: temporal.client, log }, since).catch((err: unknown) => log.warn({ err }, 'closed-process reconciliation failed'));
      void closed();
      // Rows an earlier kernel settled done without the workflow receiving them: delivered again, once at start.
      void redeliverLostCompletions({ ...apiDeps, client: temporal.client, updateWaitMs: 10_000 }).catch((err: unknown) => log.warn({ err }, 'redelivery of lost completions failed'));
      const timer = setInterval(() => {
        reconcileCompletingTasks({ ...apiDeps, client: temporal.client, updateWaitMs: 10_000 }, 30_000).catch((err: unknown) => log.warn({ err }, 'task reconciliation failed'));
        // Agent pickups the process never heard of (the API died in between): offered again.
        reofferSilentPickups(apiDeps).catch((err: unknown) => log.warn({ err }, 'agent pickup reconciliation failed'));
        void closed(new Date(Date.now() - 60 * 60_000));
      }, 15_000);
      timer.unref();
      stops.push({ name: 'task reconciliation', run: async () => clearInterval(timer) });
    }

    // The example contract's party agents, in-process, talking to this API (stopped first).
    if (config.MANDATE_START_AGENTS && config.MANDATE_LOAD_EXAMPLES && opts.exampleContract !== '' && apiUrl) {
      const contract = await readContractFile(opts.exampleContract ?? 'examples/contract.yaml');
      const agents = await startExampleAgents({ db: database.db, contract, dataDir, apiUrl, log });
      stops.push({ name: 'example agents', run: () => agents.stop() });
    }

    return { apiUrl, temporalAddress, temporalUiUrl: devServer?.uiAddress, exampleKeys, database, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * One SDK runtime: its logs (bundling, worker states) go to our logger, at warn unless
 * debugging; its metrics to Prometheus on MANDATE_WORKER_METRICS_ADDRESS when set.
 */
function installSdkRuntime(log: Logger, metricsAddress: string | undefined): void {
  const level: LogLevel = log.isLevelEnabled('debug') ? 'DEBUG' : 'WARN';
  try {
    Runtime.install({
      logger: new DefaultLogger(level, ({ level: l, message, meta }) => {
        const fn = l === 'ERROR' ? log.error : l === 'WARN' ? log.warn : log.debug;
        fn.call(log, { component: 'temporal-sdk', ...meta }, message);
      }),
      telemetryOptions: workerTelemetry(metricsAddress),
    });
    if (metricsAddress) log.info({ address: metricsAddress }, 'engine worker metrics on /metrics');
  } catch {
    // A runtime exists already (tests install their own): keep it.
    if (metricsAddress) log.warn({ address: metricsAddress }, 'an SDK runtime was installed already: worker metrics are not exported');
  }
}

/** The embedded setup keeps its own codec key in the data dir (0600), made on first start. */
async function localCodecKeys(dataDir: string, log: Logger): Promise<string> {
  const file = path.join(dataDir, 'codec-keys');
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  const spec = newCodecKeySpec();
  await writeFile(file, spec + '\n', { mode: 0o600 });
  log.warn({ file }, 'no MANDATE_CODEC_KEYS: generated a payload encryption key in the data dir (set MANDATE_CODEC_KEYS in production)');
  return spec;
}

/** Like the codec keys: the embedded setup's signing key, made on first start, kept outside the bundle. */
async function localSigningKeys(dataDir: string, log: Logger): Promise<string> {
  const file = path.join(dataDir, 'signing-keys');
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  const spec = newSigningKeySpec();
  await writeFile(file, spec + '\n', { mode: 0o600 });
  log.warn({ file }, 'no MANDATE_SIGNING_KEYS: generated the deployment signing key in the data dir (set MANDATE_SIGNING_KEYS in production)');
  return spec;
}

async function loadExampleOnce(database: Database, file: string, dataDir: string, log: Logger, temporal?: TemporalHandle): Promise<ExampleKey[]> {
  const contract = await readContractFile(file);
  const keysFile = path.join(dataDir, 'example-keys.json');
  const existing = await listContractsForParty(database.db, contract.parties.find((p) => p.kind === 'provider')?.id ?? '');
  if (existing.some((c) => c.id === contract.id)) {
    return existsSync(keysFile) ? (JSON.parse(await readFile(keysFile, 'utf8')) as ExampleKey[]) : [];
  }
  const provider = await findProviderParty(database.db);
  const named = contract.parties.find((p) => p.kind === 'provider')?.id;
  if (provider && provider.id !== named) {
    throw new Error(`this deployment's provider is ${provider.id}, the example contract's is ${named}: set MANDATE_LOAD_EXAMPLES=false, or use another data dir`);
  }
  await loadContract(database.db, contract);
  const runbooks = await registerExampleRunbooks(database.db, path.join(path.dirname(file), 'runbooks'), contract);
  const keys = await issueExampleKeys(database.db, contract);
  await writeKeysFile(keysFile, keys);
  if (temporal) {
    const synced = await syncContractSchedules({ client: temporal.client, taskQueue: temporal.taskQueue, contract, contractVersion: 1, log });
    log.info({ contract: contract.id, schedules: synced.created.length + synced.updated.length, runbooks }, 'example schedules and runbooks ready');
  }
  log.info({ contract: contract.id, keysFile }, 'example contract loaded; one API key per user written to the keys file');
  return keys;
}

/**
 * The dev server of this data dir: one left running by a launcher killed with -9 is stopped first,
 * a port held by another program is named with its variable (never "address already in use").
 */
async function startEmbeddedTemporal(config: AppConfig, dataDir: string, cliPath: string, log: Logger): Promise<DevServer> {
  const dbFile = path.join(dataDir, 'temporal.db');
  const pidFile = path.join(dataDir, 'temporal.pid');
  const ip = '127.0.0.1';
  const ports = [
    { port: config.MANDATE_TEMPORAL_PORT, variable: 'MANDATE_TEMPORAL_PORT' },
    { port: config.MANDATE_TEMPORAL_UI_PORT, variable: 'MANDATE_TEMPORAL_UI_PORT' },
  ];
  await clearStaleDevServer({ pidFile, dbFile, log: (line) => log.info({ component: 'temporal' }, line), warn: (line) => log.warn({ component: 'temporal' }, line) });
  await assertPortsFree(ip, ports);
  try {
    return await startDevServer({
      cliPath,
      dbFile,
      pidFile,
      ip,
      port: config.MANDATE_TEMPORAL_PORT,
      uiPort: config.MANDATE_TEMPORAL_UI_PORT,
      namespace: config.TEMPORAL_NAMESPACE,
      searchAttributes: SEARCH_ATTRIBUTES,
      log: (line: string) => log.debug({ component: 'temporal' }, line),
    });
  } catch (err) {
    // Taken between the check and the bind.
    const named = err instanceof DevServerStartError ? ports.find((p) => p.port !== 0 && p.port === err.collidedPort) : undefined;
    if (named) throw portInUseError(ip, named.port, named.variable);
    throw err;
  }
}

function listen(app: ReturnType<typeof createApp>, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, '0.0.0.0', (err?: Error) => (err ? reject(err) : resolve(server)));
    server.on('error', (err: NodeJS.ErrnoException) => reject(err.code === 'EADDRINUSE' ? portInUseError('0.0.0.0', port, 'PORT') : err));
  });
}

/** How long in-flight requests get to finish once the API stops accepting connections. */
const SHUTDOWN_GRACE_MS = 10_000;

/** Stops accepting, lets in-flight requests finish (closing each connection as it goes idle), then cuts the rest. */
function closeServer(server: Server, graceMs: number, log: Logger): Promise<void> {
  return new Promise((resolve) => {
    const idle = setInterval(() => server.closeIdleConnections(), 50);
    const force = setTimeout(() => {
      log.warn({ graceMs }, 'requests still in flight at the end of the grace period: closing their connections');
      server.closeAllConnections();
    }, graceMs);
    server.close(() => {
      clearInterval(idle);
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}
