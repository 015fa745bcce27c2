import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { registerSearchAttributes, startDevServer } from '../../scripts/dev-server';
import { findOrBuildTemporalCli } from '../../scripts/temporal-cli';
import { SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import { connectTestClient, taskQueueFor, withWorker, type TestClient } from '../support/temporal';

const KEYWORD = 2; // temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'mandate-infra-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function fakeExecutable(path: string, script: string): Promise<string> {
  await writeFile(path, `#!/bin/sh\n${script}\n`);
  await chmod(path, 0o755);
  return path;
}

describe('the run-wide Temporal server', () => {
  let test: TestClient;
  beforeAll(async () => {
    test = await connectTestClient();
  });
  afterAll(async () => {
    await test.close();
  });

  it('when described, then the default namespace answers', async () => {
    const described = await test.connection.workflowService.describeNamespace({ namespace: 'default' });
    expect(described.namespaceInfo?.name).toBe('default');
  });

  it('when its search attributes are listed, then every Mandate one is a Keyword', async () => {
    const listed = await test.connection.operatorService.listSearchAttributes({ namespace: 'default' });
    for (const name of Object.keys(SEARCH_ATTRIBUTES)) {
      expect(listed.customAttributes?.[name], name).toBe(KEYWORD);
    }
  });

  it('when workflows/index.ts existed at start, then its bundle is a file', async () => {
    const codePath = inject('workflowBundlePath');
    if (!codePath) return; // No workflows yet: nothing was bundled, by design.
    expect((await stat(codePath)).size).toBeGreaterThan(0);
  });

  it('when a worker runs fixture workflows with extensionless imports, then a workflow completes through it', async () => {
    const taskQueue = taskQueueFor(import.meta.url);
    expect(taskQueue).toMatch(/^t-dev-server-[0-9a-f]{8}$/);
    const result = await withWorker({
      taskQueue,
      workflowsPath: fileURLToPath(new URL('./fixtures/workflows.ts', import.meta.url)),
      activities: { shout: async (text: string) => `${text.toUpperCase()}!` },
    }, () => test.client.workflow.execute('greet', { taskQueue, workflowId: `${taskQueue}-greet`, args: ['mandate'] }));
    expect(result).toBe('HELLO, MANDATE!');
  });
});

describe('findOrBuildTemporalCli', () => {
  it('when nothing is found and there is no Go, then the error says how to get a server, TEMPORAL_ADDRESS included', async () => {
    const env = { PATH: '', MANDATE_CACHE_DIR: join(scratch, 'empty-cache'), HOME: scratch };
    const found = findOrBuildTemporalCli({ env, goFallbackDirs: [], log: () => undefined });
    await expect(found).rejects.toThrow(/TEMPORAL_ADDRESS/);
    await expect(found).rejects.toThrow(/releases/);
    await expect(found).rejects.toThrow(/Go/);
  });

  it('when TEMPORAL_CLI is set, then it wins over PATH and the cache', async () => {
    const cli = await fakeExecutable(join(scratch, 'my-temporal'), 'exit 0');
    await expect(findOrBuildTemporalCli({ env: { TEMPORAL_CLI: cli, PATH: '' }, goFallbackDirs: [] })).resolves.toBe(cli);
  });

  it('when TEMPORAL_CLI is not executable, then it fails instead of guessing', async () => {
    const env = { TEMPORAL_CLI: join(scratch, 'missing-temporal'), PATH: '' };
    await expect(findOrBuildTemporalCli({ env, goFallbackDirs: [] })).rejects.toThrow(/TEMPORAL_CLI/);
  });

  it('when only the cache holds one, then the cached binary is used without building', async () => {
    const cache = join(scratch, 'cache');
    await mkdir(join(cache, 'bin'), { recursive: true });
    const cached = await fakeExecutable(join(cache, 'bin', 'temporal'), 'exit 0');
    await expect(findOrBuildTemporalCli({ env: { PATH: '', MANDATE_CACHE_DIR: cache }, goFallbackDirs: [] })).resolves.toBe(cached);
  });
});

describe('startDevServer', () => {
  it('when the CLI dies at start, then the error carries its output', async () => {
    const cliPath = await fakeExecutable(join(scratch, 'dying-temporal'), 'echo "boom: no such flag" >&2; exit 3');
    await expect(startDevServer({ cliPath, uiPort: false, readyTimeoutMs: 10_000 })).rejects.toThrow(/exit code 3[\s\S]*boom: no such flag/);
  });

  it('when state is persisted to a file, then search attributes added remotely survive a restart and stop() ends the process', async () => {
    const cliPath = await findOrBuildTemporalCli();
    const dbFile = join(scratch, 'state.db');
    const first = await startDevServer({ cliPath, dbFile, uiPort: false, searchAttributes: SEARCH_ATTRIBUTES });
    try {
      const connection = await Connection.connect({ address: first.address });
      try {
        await expect(registerSearchAttributes(connection, 'default', { ...SEARCH_ATTRIBUTES, MandateExtra: 'Int' })).resolves.toEqual(['MandateExtra']);
        await expect(registerSearchAttributes(connection, 'default', { MandateExtra: 'Int' })).resolves.toEqual([]);
      } finally {
        await connection.close();
      }
    } finally {
      await first.stop();
    }
    expect(() => process.kill(first.pid, 0)).toThrow();
    expect(existsSync(dbFile)).toBe(true);

    const second = await startDevServer({ cliPath, dbFile, uiPort: false });
    try {
      const connection = await Connection.connect({ address: second.address });
      try {
        const listed = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
        expect(listed.customAttributes?.MandateExtra).toBe(3);
        expect(listed.customAttributes?.MandateContract).toBe(KEYWORD);
      } finally {
        await connection.close();
      }
    } finally {
      await second.stop();
    }
  });

  it('when the state file was made without a search attribute, then a start that wants it adds it instead of waiting for it', async () => {
    // --search-attribute applies to a new namespace only: a data dir from before an attribute existed lacks it.
    const cliPath = await findOrBuildTemporalCli();
    const dbFile = join(scratch, 'older-state.db');
    const older = await startDevServer({ cliPath, dbFile, uiPort: false, searchAttributes: { MandateContract: 'Keyword' } });
    await older.stop();
    const lines: string[] = [];
    const newer = await startDevServer({ cliPath, dbFile, uiPort: false, searchAttributes: SEARCH_ATTRIBUTES, readyTimeoutMs: 45_000, log: (l) => lines.push(l) });
    try {
      const connection = await Connection.connect({ address: newer.address });
      try {
        const listed = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
        for (const name of Object.keys(SEARCH_ATTRIBUTES)) expect(listed.customAttributes?.[name], name).toBe(KEYWORD);
      } finally {
        await connection.close();
      }
      expect(lines.join('\n')).toMatch(/added search attributes its state file lacked: .*MandateClient/);
    } finally {
      await newer.stop();
    }
  });

  it('when a UI is wanted, then it gets its own free port and answers over HTTP', async () => {
    const cliPath = await findOrBuildTemporalCli();
    const server = await startDevServer({ cliPath });
    try {
      expect(server.uiAddress).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const response = await fetch(server.uiAddress!);
      expect(response.status).toBe(200);
    } finally {
      await server.stop();
    }
  });
});
