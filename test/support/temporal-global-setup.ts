// One Temporal dev server and one workflow bundle for the whole vitest run.
// Set MANDATE_TEST_TEMPORAL_ADDRESS to test against an existing server instead.
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { registerSearchAttributes, startDevServer, type DevServer } from '../../scripts/dev-server';
import { findOrBuildTemporalCli } from '../../scripts/temporal-cli';
import { SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';

declare module 'vitest' {
  export interface ProvidedContext {
    /** host:port of the run's Temporal server (namespace `default`). */
    temporalAddress: string;
    /** Path of the bundled workflows/index.ts, or '' when it did not exist or failed to bundle. */
    workflowBundlePath: string;
    /** Why there is no bundle ('' when there is one). */
    workflowBundleError: string;
  }
}

const repoRoot = resolve(fileURLToPath(import.meta.url), '../../..');
const log = (line: string) => process.stderr.write(`[temporal] ${line}\n`);

function workflowsPath(): string {
  return resolve(process.env.MANDATE_WORKFLOWS_PATH || join(repoRoot, 'test', 'support', 'test-workflows.ts'));
}

interface BundleOutcome {
  codePath: string;
  error: string;
}

/** A bundle that fails is reported to the tests that need it, not to the whole run. */
async function bundleWorkflows(dir: string): Promise<BundleOutcome> {
  const path = workflowsPath();
  if (!existsSync(path)) {
    log(`${path} does not exist yet: no workflow bundle for this run.`);
    return { codePath: '', error: `${path} did not exist when the test run started.` };
  }
  const started = Date.now();
  const problems: string[] = [];
  // webpack's full report (resolution traces) is long: keep the lines that name the problem.
  const logger = new DefaultLogger('WARN', (entry) => {
    problems.push(...entry.message.split('\n').filter((line) => /ERROR|WARNING|Can't resolve|not found|disallowed/i.test(line)));
  });
  try {
    // Production's failure converter (messages encrypted with the payloads) is part of the bundle.
    const failureConverterPath = fileURLToPath(new URL('../../temporal/failure-converter.ts', import.meta.url));
    const bundle = await bundleWorkflowCode({ workflowsPath: path, logger, failureConverterPath });
    const codePath = join(dir, 'workflow-bundle.js');
    await writeFile(codePath, bundle.code);
    log(`bundled ${path} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    return { codePath, error: '' };
  } catch (error) {
    const message = [error instanceof Error ? error.message : String(error), ...problems.slice(0, 20)].join('\n');
    log(`bundling ${path} failed (workflow tests will fail, others run): ${message}`);
    return { codePath: '', error: `Bundling ${path} failed: ${message}` };
  }
}

async function useExistingServer(address: string): Promise<void> {
  const connection = await Connection.connect({ address });
  try {
    await registerSearchAttributes(connection, 'default', SEARCH_ATTRIBUTES);
  } finally {
    await connection.close();
  }
}

async function startServer(): Promise<DevServer> {
  let cliPath: string;
  try {
    cliPath = await findOrBuildTemporalCli({ log });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`${message}\n(For tests, MANDATE_TEST_TEMPORAL_ADDRESS=host:port points the run at an existing server.)`, { cause: error });
  }
  return startDevServer({ cliPath, uiPort: false, searchAttributes: SEARCH_ATTRIBUTES, log });
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), 'mandate-vitest-'));
  const existing = process.env.MANDATE_TEST_TEMPORAL_ADDRESS;
  // Bundling (webpack) and server start-up overlap: both take seconds.
  const [server, bundle] = await Promise.allSettled([
    existing ? useExistingServer(existing).then(() => undefined) : startServer(),
    bundleWorkflows(dir),
  ]);
  if (server.status === 'rejected' || bundle.status === 'rejected') {
    if (server.status === 'fulfilled') await server.value?.stop();
    await rm(dir, { recursive: true, force: true });
    throw server.status === 'rejected' ? server.reason : (bundle as PromiseRejectedResult).reason;
  }

  project.provide('temporalAddress', existing ?? server.value!.address);
  project.provide('workflowBundlePath', bundle.value.codePath);
  project.provide('workflowBundleError', bundle.value.error);

  return async () => {
    await server.value?.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
