// What the API costs when starting processes: POST /v1/contracts/{id}/processes under load
// against starting the same workflows directly with the Temporal client, same concurrency,
// same dev server, same run.
//
//   npm run bench:api-start   (env: BENCH_SECONDS=15 per side, BENCH_ROUNDS=3, BENCH_CONNECTIONS=10)
//
// The sides alternate in rounds (direct, API, API, direct, …) so that a shared machine's drift
// during the run weighs on both alike; the ratio is of the totals, and each round's is printed.
//
// The API side does everything a real start does under `npm start`: the key check (from memory
// while key changes are heard), contract and coverage checks, input validation, the process
// row inserted under the contract guard, the encrypted workflow start. No worker runs: only the
// starts are measured. Target: API throughput ≥ 0.8 of the direct one. Printed, not asserted.
import type { AddressInfo } from 'node:net';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { Client, Connection, WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/client';
import { createApp } from '../api/app';
import { createPrincipalCache } from '../api/principal-cache';
import { API_KEY_CHANNEL } from '../db/notifications';
import { connectTemporal } from '../temporal/client';
import { EncryptionCodec, newCodecKeySpec, parseCodecKeys } from '../temporal/codec';
import { startDevServer } from '../scripts/dev-server';
import { findOrBuildTemporalCli } from '../scripts/temporal-cli';
import { issueExampleKeys, loadContract, readContractFile } from '../scripts/load-example';
import { SEARCH_ATTRIBUTES, MandateClient, MandateContract, MandateProcess, MandateStatus } from '../workflows/search-attributes';
import { WORKFLOW_TYPES } from '../workflows/registry';
import type { ProcessStart } from '../workflows/definitions';
import { createTestDatabase } from '../test/support/db';
import { silentLog } from '../test/support/harness';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const TARGET = 0.8;
const CONTRACT = 'ctr-martin-2027';
const TYPE = 'employee-onboarding';
const taskQueue = 'bench-api-start';
const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const run = promisify(execFile);

const input = {
  employee: { firstName: 'Ada', lastName: 'Lovelace', email: 'ada@martin.example', department: 'R&D', startDate: '2027-03-01' },
  privilegedGroups: ['erp-admins'],
  laptop: { model: 'T14', shipTo: 'Lyon HQ' },
};

/** The same start the API makes, straight to Temporal, from CONNECTIONS concurrent loops. */
async function directStarts(client: Client, clientParty: string, seconds: number, prefix: string): Promise<{ perSecond: number; p99: number; count: number }> {
  const workflowType = WORKFLOW_TYPES[TYPE]!;
  const deadline = Date.now() + seconds * 1000;
  const latencies: number[] = [];
  let n = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (Date.now() < deadline) {
        const businessKey = `${prefix}-${n++}`;
        const start: ProcessStart = { contractId: CONTRACT, version: 1, processType: TYPE, businessKey, requestedBy: { userId: 'u-hr-lea', partyId: 'martin' }, input };
        const t = performance.now();
        await client.workflow.start(workflowType, {
          workflowId: `mandate:${CONTRACT}:${TYPE}:${businessKey}`,
          taskQueue,
          args: [start],
          workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
          workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
          typedSearchAttributes: [
            { key: MandateContract, value: CONTRACT },
            { key: MandateClient, value: clientParty },
            { key: MandateProcess, value: TYPE },
            { key: MandateStatus, value: 'running' },
          ],
        });
        latencies.push(performance.now() - t);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { perSecond: latencies.length / elapsed, p99: latencies[Math.ceil(latencies.length * 0.99) - 1] ?? NaN, count: latencies.length };
}

/**
 * autocannon in a process of its own: in the API's process its HTTP client would share the
 * event loop with the server it measures and handicap the API side.
 */
async function apiStarts(url: string, key: string, seconds: number, prefix: string): Promise<{ perSecond: number; p99: number; count: number; errors: number }> {
  const cli = createRequire(import.meta.url).resolve('autocannon/autocannon.js');
  const body = JSON.stringify({ type: TYPE, businessKey: `${prefix}-[<id>]`, input });
  const args = [cli, '-c', String(CONNECTIONS), '-d', String(seconds), '-m', 'POST', '-H', `authorization=Bearer ${key}`, '-H', 'content-type=application/json', '-b', body, '-I', '-j', `${url}/v1/contracts/${CONTRACT}/processes`];
  const { stdout } = await run(process.execPath, args);
  const result = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { '2xx': number; non2xx: number; errors: number; timeouts: number; latency: { p99: number }; duration: number };
  const created = result['2xx'];
  return { perSecond: created / result.duration, p99: result.latency.p99, count: created, errors: result.non2xx + result.errors + result.timeouts };
}

async function main(): Promise<void> {
  const [cliPath, database] = await Promise.all([findOrBuildTemporalCli({ log }), createTestDatabase()]);
  const server = await startDevServer({ cliPath, uiPort: false, searchAttributes: SEARCH_ATTRIBUTES, log });
  const codec = new EncryptionCodec(parseCodecKeys(newCodecKeySpec('bench')));
  const temporal = await connectTemporal({ address: server.address, namespace: 'default', taskQueue, codec });
  const connection = await Connection.connect({ address: server.address });
  const directClient = new Client({ connection, namespace: 'default', dataConverter: { payloadCodecs: [codec] } });
  // As `npm start` runs it: keys authenticated from memory while key changes are heard.
  const principalCache = createPrincipalCache();
  const keyChanges = await database.database.listen(API_KEY_CHANNEL, principalCache);
  const http = createApp({ db: database.db, temporal, log: silentLog, principalCache }).listen(0, '127.0.0.1');
  try {
    const contract = await readContractFile('examples/contract.yaml');
    await loadContract(database.db, contract);
    const key = (await issueExampleKeys(database.db, contract)).find((k) => k.userId === 'u-hr-lea')!.key;
    await new Promise<void>((resolve) => (http.listening ? resolve() : http.once('listening', () => resolve())));
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    const clientParty = contract.parties.find((p) => p.kind === 'client')!.id;

    // Warm-up on both paths (JIT, connection pools, the dev server's caches).
    await directStarts(directClient, clientParty, 2, 'warm-direct');
    await apiStarts(url, key, 2, 'warm-api');
    const slice = Math.max(1, Math.round(SECONDS / ROUNDS));
    const direct: { perSecond: number; p99: number; count: number }[] = [];
    const api: { perSecond: number; p99: number; count: number; errors: number }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const sides = round % 2 === 0 ? (['direct', 'api'] as const) : (['api', 'direct'] as const);
      for (const side of sides) {
        log(`round ${round + 1}/${ROUNDS}: ${side} starts for ${slice} s at concurrency ${CONNECTIONS}…`);
        if (side === 'direct') direct.push(await directStarts(directClient, clientParty, slice, `direct-${round}`));
        else api.push(await apiStarts(url, key, slice, `api-${round}`));
      }
    }
    // Each side's rate over all its rounds (equal slices, so the mean of the rates).
    const rate = (runs: { perSecond: number }[]) => runs.reduce((sum, r) => sum + r.perSecond, 0) / runs.length;
    const d = { perSecond: rate(direct), p99: Math.max(...direct.map((r) => r.p99)), count: direct.reduce((n, r) => n + r.count, 0) };
    const a = { perSecond: rate(api), p99: Math.max(...api.map((r) => r.p99)), count: api.reduce((n, r) => n + r.count, 0), errors: api.reduce((n, r) => n + r.errors, 0) };
    const ratio = a.perSecond / d.perSecond;
    console.log(`\nStarting ${TYPE} processes, ${ROUNDS} rounds of ${slice} s per side, concurrency ${CONNECTIONS}, one dev server, no worker`);
    console.log(`direct (Temporal client)   ${d.perSecond.toFixed(1).padStart(7)} starts/s   p99 ${d.p99.toFixed(1).padStart(6)} ms   (${d.count} starts)`);
    console.log(`API (POST …/processes)      ${a.perSecond.toFixed(1).padStart(7)} starts/s   p99 ${a.p99.toFixed(1).padStart(6)} ms   (${a.count} created, ${a.errors} errors)`);
    console.log(`ratio by round: ${direct.map((r, i) => (api[i]!.perSecond / r.perSecond).toFixed(2)).join(' ')}`);
    console.log(`ratio API/direct: ${ratio.toFixed(2)}   target ≥ ${TARGET}: ${ratio >= TARGET ? 'ok' : 'UNDER TARGET'}`);
  } finally {
    http.close();
    http.closeAllConnections();
    await keyChanges.stop();
    await connection.close();
    await temporal.close();
    await database.drop();
    await server.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
