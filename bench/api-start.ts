// What the API costs when starting processes: POST /v1/contracts/{id}/processes under load
// against starting the same workflows directly with the Temporal client, same concurrency,
// same dev server, same run.
//
//   npm run bench:api-start   (env: BENCH_SECONDS=15 per side, BENCH_ROUNDS=3, BENCH_CONNECTIONS=10,
//                              BENCH_TEMPORAL_DB=both|file|memory)
//
// Run against a persisted dev server (as `npm start` runs it: durable on both sides, where the
// target is judged) and against an in-memory one (the harshest baseline), unless told one.
//
// The sides alternate in rounds (direct, floor, API, then API, floor, direct, …) so that a shared machine's drift
// during the run weighs on both alike; the ratio is of the totals, and each round's is printed.
//
// The API side does everything a real start does under `npm start`: the key check (from memory
// while key changes are heard), contract and coverage checks, input validation, the process
// row inserted under the contract guard, the encrypted workflow start. No worker runs: only the
// starts are measured. Target: API throughput ≥ 0.8 of the direct one. Printed, not asserted.
import type { AddressInfo } from 'node:net';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import express from 'express';
import { Client, Connection } from '@temporalio/client';
import { createApp } from '../api/app';
import { createPrincipalCache } from '../api/principal-cache';
import { API_KEY_CHANNEL } from '../db/notifications';
import { connectTemporal } from '../temporal/client';
import { EncryptionCodec, newCodecKeySpec, parseCodecKeys } from '../temporal/codec';
import { startDevServer } from '../scripts/dev-server';
import { findOrBuildTemporalCli } from '../scripts/temporal-cli';
import { issueExampleKeys, loadContract, readContractFile } from '../scripts/load-example';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { startProcessWorkflow, type StartOf } from '../temporal/start';
import { createTestDatabase } from '../test/support/db';
import { silentLog } from '../test/support/harness';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const TEMPORAL_DB = process.env.BENCH_TEMPORAL_DB ?? 'both';
if (TEMPORAL_DB !== 'memory' && TEMPORAL_DB !== 'file' && TEMPORAL_DB !== 'both') throw new Error('BENCH_TEMPORAL_DB is both, file or memory');
const MODES: readonly ('file' | 'memory')[] = TEMPORAL_DB === 'both' ? ['file', 'memory'] : [TEMPORAL_DB];
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

/** The start the API makes, straight to Temporal. */
async function startDirect(client: Client, clientParty: string, businessKey: string): Promise<void> {
  const start: StartOf<typeof TYPE> = { contractId: CONTRACT, version: 1, processType: TYPE, businessKey, requestedBy: { userId: 'u-hr-lea', partyId: 'martin' }, input };
  await startProcessWorkflow(client, TYPE, start, { taskQueue, clientId: clientParty });
}

/**
 * The floor of any HTTP API on this machine: express 5 with its JSON body parser and one route
 * that makes the same start, nothing else (no key, no validation, no database). What separates
 * it from the direct starts is HTTP itself; what separates Mandate's API from it is Mandate's.
 */
function floorApp(client: Client, clientParty: string): express.Express {
  const app = express();
  app.use(express.json());
  app.post('/start', async (req, res) => {
    const { businessKey } = req.body as { businessKey: string };
    await startDirect(client, clientParty, businessKey);
    res.status(201).json({ id: `mandate:${CONTRACT}:${TYPE}:${businessKey}` });
  });
  return app;
}

/** The same start the API makes, straight to Temporal, from CONNECTIONS concurrent loops. */
async function directStarts(client: Client, clientParty: string, seconds: number, prefix: string): Promise<{ perSecond: number; p99: number; count: number }> {
  const deadline = Date.now() + seconds * 1000;
  const latencies: number[] = [];
  let n = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (Date.now() < deadline) {
        const businessKey = `${prefix}-${n++}`;
        const t = performance.now();
        await startDirect(client, clientParty, businessKey);
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
async function httpStarts(target: string, key: string, seconds: number, prefix: string): Promise<{ perSecond: number; p99: number; count: number; errors: number }> {
  const cli = createRequire(import.meta.url).resolve('autocannon/autocannon.js');
  const body = JSON.stringify({ type: TYPE, businessKey: `${prefix}-[<id>]`, input });
  const args = [cli, '-c', String(CONNECTIONS), '-d', String(seconds), '-m', 'POST', '-H', `authorization=Bearer ${key}`, '-H', 'content-type=application/json', '-b', body, '-I', '-j', target];
  const { stdout } = await run(process.execPath, args);
  const result = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { '2xx': number; non2xx: number; errors: number; timeouts: number; latency: { p99: number }; duration: number };
  const created = result['2xx'];
  return { perSecond: created / result.duration, p99: result.latency.p99, count: created, errors: result.non2xx + result.errors + result.timeouts };
}

/**
 * One whole measurement against a dev server of its own and a database of its own. `file`
 * persists the dev server in SQLite, as `npm start` runs it: Temporal commits durably, like
 * the API's process row, so the two sides pay for durability alike (the target is judged
 * there). `memory` is the cheapest Temporal there is: the harshest baseline, printed too.
 */
async function measure(cliPath: string, mode: 'file' | 'memory'): Promise<number> {
  const database = await createTestDatabase();
  const scratch = await mkdtemp(path.join(tmpdir(), 'mandate-bench-'));
  const dbFile = mode === 'file' ? path.join(scratch, 'temporal.db') : undefined;
  const server = await startDevServer({ cliPath, uiPort: false, searchAttributes: SEARCH_ATTRIBUTES, log, ...(dbFile ? { dbFile } : {}) });
  const codec = new EncryptionCodec(parseCodecKeys(newCodecKeySpec('bench')));
  const temporal = await connectTemporal({ address: server.address, namespace: 'default', taskQueue, codec });
  const connection = await Connection.connect({ address: server.address });
  const directClient = new Client({ connection, namespace: 'default', dataConverter: { payloadCodecs: [codec] } });
  // As `npm start` runs it: keys authenticated from memory while key changes are heard.
  const principalCache = createPrincipalCache();
  const keyChanges = await database.database.listen(API_KEY_CHANNEL, principalCache);
  const http = createApp({ db: database.db, temporal, log: silentLog, principalCache }).listen(0, '127.0.0.1');
  const floor = floorApp(directClient, 'martin').listen(0, '127.0.0.1');
  try {
    const contract = await readContractFile('examples/contract.yaml');
    await loadContract(database.db, contract);
    const key = (await issueExampleKeys(database.db, contract)).find((k) => k.userId === 'u-hr-lea')!.key;
    for (const server of [http, floor]) await new Promise<void>((resolve) => (server.listening ? resolve() : server.once('listening', () => resolve())));
    const apiUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}/v1/contracts/${CONTRACT}/processes`;
    const floorUrl = `http://127.0.0.1:${(floor.address() as AddressInfo).port}/start`;
    const clientParty = contract.parties.find((p) => p.kind === 'client')!.id;

    // Warm-up on every path (JIT, connection pools, the dev server's caches).
    await directStarts(directClient, clientParty, 2, 'warm-direct');
    await httpStarts(floorUrl, key, 2, 'warm-floor');
    await httpStarts(apiUrl, key, 2, 'warm-api');
    const slice = Math.max(1, Math.round(SECONDS / ROUNDS));
    const runs: Record<'direct' | 'floor' | 'api', { perSecond: number; p99: number; count: number; errors?: number }[]> = { direct: [], floor: [], api: [] };
    for (let round = 0; round < ROUNDS; round++) {
      const sides = round % 2 === 0 ? (['direct', 'floor', 'api'] as const) : (['api', 'floor', 'direct'] as const);
      for (const side of sides) {
        log(`round ${round + 1}/${ROUNDS}: ${side} starts for ${slice} s at concurrency ${CONNECTIONS}…`);
        // A second of the same side first, not counted: what the previous side left behind
        // (garbage to collect, the dev server's backlog) weighs on that second, not on the slice.
        const measure = (seconds: number, prefix: string) =>
          side === 'direct' ? directStarts(directClient, clientParty, seconds, prefix) : httpStarts(side === 'api' ? apiUrl : floorUrl, key, seconds, prefix);
        await measure(1, `${side}-settle-${round}`);
        runs[side].push(await measure(slice, `${side}-${round}`));
      }
    }
    // Each side's rate over all its rounds (equal slices, so the mean of the rates).
    const total = (side: keyof typeof runs) => ({
      perSecond: runs[side].reduce((sum, r) => sum + r.perSecond, 0) / runs[side].length,
      p99: Math.max(...runs[side].map((r) => r.p99)),
      count: runs[side].reduce((n, r) => n + r.count, 0),
      errors: runs[side].reduce((n, r) => n + (r.errors ?? 0), 0),
    });
    const [d, f, a] = [total('direct'), total('floor'), total('api')];
    const ratio = a.perSecond / d.perSecond;
    const line = (label: string, t: typeof d, what: string) => `${label.padEnd(36)} ${t.perSecond.toFixed(1).padStart(7)} starts/s   p99 ${t.p99.toFixed(1).padStart(6)} ms   (${t.count} ${what}${t.errors ? `, ${t.errors} errors` : ''})`;
    console.log(`\nStarting ${TYPE} processes, ${ROUNDS} rounds of ${slice} s per side, concurrency ${CONNECTIONS}, one dev server (${mode}), no worker`);
    console.log(line('direct (Temporal client)', d, 'starts'));
    console.log(line('HTTP floor (bare express 5 + start)', f, 'starts'));
    console.log(line('API (POST …/processes)', a, 'created'));
    console.log(`ratio API/direct by round: ${runs.direct.map((r, i) => (runs.api[i]!.perSecond / r.perSecond).toFixed(2)).join(' ')}`);
    console.log(`floor/direct: ${(f.perSecond / d.perSecond).toFixed(2)}   API/floor: ${(a.perSecond / f.perSecond).toFixed(2)}   (what HTTP alone costs, and what Mandate adds to it)`);
    console.log(`ratio API/direct: ${ratio.toFixed(2)}`);
    return ratio;
  } finally {
    for (const server of [http, floor]) {
      server.close();
      server.closeAllConnections();
    }
    await keyChanges.stop();
    await connection.close();
    await temporal.close();
    await database.drop();
    await server.stop();
    await rm(scratch, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const cliPath = await findOrBuildTemporalCli({ log });
  const ratios: Partial<Record<'file' | 'memory', number>> = {};
  for (const mode of MODES) ratios[mode] = await measure(cliPath, mode);
  const judged = ratios.file ?? ratios.memory!;
  console.log(`\nAPI/direct: ${MODES.map((mode) => `${ratios[mode]!.toFixed(2)} (${mode})`).join(', ')}   target ≥ ${TARGET} against the persisted dev server: ${judged >= TARGET ? 'ok' : 'UNDER TARGET'}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
