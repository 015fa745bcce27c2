// A party's first inbox page through the real HTTP route on a large task table.
//
//   npm run bench:inbox   (env: BENCH_TASKS=100000 open tasks, BENCH_CONTRACTS=1000,
//                          BENCH_REQUESTS=500 timed requests, TEST_DATABASE_URL admin URL)
//
// A fresh PostgreSQL database (created and dropped like the tests'), bulk-seeded with
// generate_series; then GET /v1/tasks with a real key, N times, one at a time. Prints p50
// and p99 (target p99 < 20 ms) and the plan of the query behind it. Printed, not asserted.
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { sql, type Kysely } from 'kysely';
import { createApp } from '../api/app';
import { issueApiKey } from '../db/api-keys';
import type { Schema } from '../db/schema';
import { createTestDatabase } from '../test/support/db';
import { silentLog } from '../test/support/harness';

const TASKS = Number(process.env.BENCH_TASKS ?? 100_000);
const CONTRACTS = Number(process.env.BENCH_CONTRACTS ?? 1_000);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 500);
const CLIENTS = 100;
const PROCESSES_PER_CONTRACT = 10;
const BATCH = 10_000;
const TARGET_P99_MS = 20;
const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

/**
 * The provider holds 60% of the open tasks (it does most of the work), the 100 clients the
 * rest; one task in seven has no due date; due dates spread over a few days.
 */
async function seed(db: Kysely<Schema>): Promise<void> {
  await sql`INSERT INTO parties (id, kind, name, timezone) VALUES ('b-provider', 'provider', 'Bench provider', 'Europe/Paris')`.execute(db);
  await sql`INSERT INTO parties (id, kind, name, timezone) SELECT 'b-client-' || i, 'client', 'Client ' || i, 'Europe/Paris' FROM generate_series(1, ${sql.lit(CLIENTS)}) i`.execute(db);
  await sql`INSERT INTO users (id, party_id, roles) VALUES ('u-bench', 'b-provider', '{operator}'), ('u-bench-client', 'b-client-1', '{operator}')`.execute(db);
  await sql`INSERT INTO contracts (id, provider_id, client_id, status, currency)
    SELECT 'b-ctr-' || i, 'b-provider', 'b-client-' || (1 + i % ${sql.lit(CLIENTS)}), 'active', 'EUR' FROM generate_series(1, ${sql.lit(CONTRACTS)}) i`.execute(db);
  await sql`INSERT INTO contract_parties (contract_id, party_id) SELECT id, provider_id FROM contracts UNION ALL SELECT id, client_id FROM contracts`.execute(db);
  await sql`INSERT INTO contract_versions (contract_id, version, document) SELECT id, 1, '{}'::jsonb FROM contracts`.execute(db);
  const processes = CONTRACTS * PROCESSES_PER_CONTRACT;
  await sql`INSERT INTO processes (id, contract_id, contract_version, process_type, business_key, requested_by, requested_by_party)
    SELECT 'b-proc-' || i, 'b-ctr-' || (1 + i % ${sql.lit(CONTRACTS)}), 1, 'incident', 'bk-' || i, 'u-bench', 'b-provider' FROM generate_series(1, ${sql.lit(processes)}) i`.execute(db);
  for (let from = 1; from <= TASKS; from += BATCH) {
    const to = Math.min(TASKS, from + BATCH - 1);
    await sql`INSERT INTO tasks (id, process_id, step_key, kind, party_id, title, payload, due_at, status)
      SELECT 'b-task-' || lpad(i::text, 7, '0'),
             'b-proc-' || (1 + i % ${sql.lit(processes)}),
             'incident.resolve', 'execute',
             CASE WHEN i % 10 < 6 THEN 'b-provider' ELSE 'b-client-' || (1 + (i / 10) % ${sql.lit(CLIENTS)}) END,
             'Resolve incident ' || i,
             jsonb_build_object('asset', 'srv-' || (i % 500), 'priority', 'P' || (1 + i % 4)),
             CASE WHEN i % 7 = 0 THEN NULL ELSE now() + (i % 7200) * interval '1 minute' END,
             'open'
      FROM generate_series(${sql.lit(from)}, ${sql.lit(to)}) i`.execute(db);
  }
  await sql`ANALYZE`.execute(db);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function timeInbox(url: string, key: string, n: number): Promise<{ p50: number; p99: number; max: number; items: number }> {
  const once = async () => {
    const started = performance.now();
    const res = await fetch(`${url}/v1/tasks`, { headers: { authorization: `Bearer ${key}` } });
    const body = (await res.json()) as { items: unknown[] };
    if (res.status !== 200) throw new Error(`GET /v1/tasks answered ${res.status}: ${JSON.stringify(body)}`);
    return { ms: performance.now() - started, items: body.items.length };
  };
  for (let i = 0; i < 50; i++) await once(); // Warm-up: JIT, connection pool, plan cache.
  const samples: number[] = [];
  let items = 0;
  for (let i = 0; i < n; i++) {
    const r = await once();
    samples.push(r.ms);
    items = r.items;
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99), max: samples.at(-1)!, items };
}

async function main(): Promise<void> {
  const t = await createTestDatabase();
  const connection = Connection.lazy({ address: '127.0.0.1:1' }); // The inbox never calls Temporal.
  const server = createApp({ db: t.db, log: silentLog, temporal: { client: new Client({ connection }), taskQueue: 'bench', close: () => connection.close() } }).listen(0, '127.0.0.1');
  try {
    let started = performance.now();
    await seed(t.db);
    log(`seeded ${TASKS} open tasks, ${CONTRACTS} contracts, ${CONTRACTS * PROCESSES_PER_CONTRACT} processes in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    await new Promise<void>((resolve) => (server.listening ? resolve() : server.once('listening', () => resolve())));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const provider = await issueApiKey(t.db, { partyId: 'b-provider', userId: 'u-bench', roles: ['operator'] });
    const client = await issueApiKey(t.db, { partyId: 'b-client-1', userId: 'u-bench-client', roles: ['operator'] });
    const counts = await sql<{ party_id: string; n: string }>`SELECT party_id, count(*) AS n FROM tasks WHERE party_id IN ('b-provider', 'b-client-1') GROUP BY party_id`.execute(t.db);

    started = performance.now();
    const big = await timeInbox(url, provider.key, REQUESTS);
    const small = await timeInbox(url, client.key, REQUESTS);
    log(`timed ${2 * REQUESTS} requests in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    const plan = await sql<{ 'QUERY PLAN': string }>`EXPLAIN (ANALYZE, BUFFERS)
      SELECT * FROM tasks WHERE party_id = ${'b-provider'} AND status IN (${'open'}) ORDER BY due_at ASC NULLS LAST, id LIMIT 51`.execute(t.db);

    const size = Object.fromEntries(counts.rows.map((r) => [r.party_id, Number(r.n)]));
    const line = (name: string, r: Awaited<ReturnType<typeof timeInbox>>) =>
      `${name.padEnd(36)} p50 ${r.p50.toFixed(2).padStart(6)} ms   p99 ${r.p99.toFixed(2).padStart(6)} ms   max ${r.max.toFixed(1).padStart(6)} ms   (${r.items} items)   ${r.p99 < TARGET_P99_MS ? 'ok' : 'OVER TARGET'}`;
    console.log(`\nInbox first page, GET /v1/tasks (limit 50), ${REQUESTS} sequential requests each, ${TASKS} open tasks in the table`);
    console.log(line(`provider (${size['b-provider']} open tasks)`, big));
    console.log(line(`client (${size['b-client-1']} open tasks)`, small));
    console.log(`target: p99 < ${TARGET_P99_MS} ms\n\nPlan of listTasksForParty for the provider:`);
    for (const row of plan.rows) console.log(`  ${row['QUERY PLAN']}`);
  } finally {
    server.close();
    server.closeAllConnections();
    await connection.close().catch(() => undefined);
    await t.drop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
