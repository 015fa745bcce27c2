// The real API on port 0 for HTTP tests: a fresh database holding the example contract and
// one key per example user, and a Temporal client on the run's server (no worker needed).
import type { AddressInfo } from 'node:net';
import { inject } from 'vitest';
import type { Logger } from 'pino';
import { createApp, type ApiDeps } from '../../api/app';
import { connectTemporal, type TemporalHandle } from '../../temporal/client';
import { EncryptionCodec, newCodecKeySpec, parseCodecKeys } from '../../temporal/codec';
import { issueExampleKeys, loadContract, readContractFile } from '../../scripts/load-example';
import { createTestDatabase, type TestDatabase } from './db';
import { silentLog } from './harness';
import { taskQueueFor } from './temporal';

export interface TestApi {
  url: string;
  /** userId → clear API key. */
  keys: Map<string, string>;
  database: TestDatabase;
  temporal: TemporalHandle;
  deps: ApiDeps;
  close(): Promise<void>;
}

export async function startTestApi(opts: { log?: Logger; name?: string } = {}): Promise<TestApi> {
  const database = await createTestDatabase();
  const contract = await readContractFile('examples/contract.yaml');
  await loadContract(database.db, contract);
  const keys = new Map((await issueExampleKeys(database.db, contract)).map((k) => [k.userId, k.key]));
  const temporal = await connectTemporal({
    address: inject('temporalAddress'),
    namespace: 'default',
    taskQueue: taskQueueFor(opts.name ?? 'api'),
    codec: new EncryptionCodec(parseCodecKeys(newCodecKeySpec('t'))),
  });
  const deps: ApiDeps = { db: database.db, temporal, log: opts.log ?? silentLog };
  const server = createApp(deps).listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    keys,
    database,
    temporal,
    deps,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await temporal.close();
      await database.drop();
    },
  };
}
