// Schedule sync at scale: activate N contracts of four schedules each against a dev
// server this script starts, then sync them all again (which must write nothing).
//
//   npm run bench:schedules   (env: BENCH_CONTRACTS=1000, BENCH_CONCURRENCY=20)
//
// Printed, not asserted: a laptop's figures vary; the second pass's writes must be 0.
import { Client, Connection } from '@temporalio/client';
import { startDevServer } from '../scripts/dev-server';
import { findOrBuildTemporalCli } from '../scripts/temporal-cli';
import type { Contract } from '../domain/contract';
import { counts, syncContractSchedules, type SyncResult } from '../temporal/schedules';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { aContract } from '../test/support/builders';

const N = Number(process.env.BENCH_CONTRACTS ?? 1000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 20);
const taskQueue = 'bench-schedules';
const workflowTypes = { backup: 'backup', 'patch-cycle': 'patchCycle', 'restore-test': 'restoreTest', 'contract-billing': 'contractBilling' };
const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

function contractNo(i: number): Contract {
  return aContract()
    .with((c) => {
      c.id = `ctr-bench-${String(i).padStart(5, '0')}`;
      c.maintenanceWindows = [{ name: 'sunday-night', calendar: { dayOfWeek: 'SUN', hour: 1, minute: 0 }, duration: 'PT4H' }];
      c.schedules = {
        'nightly-backup': { process: 'backup', calendar: { hour: 1, minute: i % 60 } },
        'monthly-patching': { process: 'patch-cycle', calendar: { dayOfWeek: 'TUE', dayOfMonth: '8-14', hour: 9 }, runIn: 'sunday-night' },
        'restore-test': { process: 'restore-test', calendar: { dayOfWeek: 'MON', dayOfMonth: '1-7', hour: 10 } },
        billing: { process: 'contract-billing', calendar: { dayOfMonth: 1, hour: 6 } },
      };
    })
    .build();
}

/** Runs `fn` over items, at most `limit` at a time. */
async function pool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  }));
  return out;
}

function total(results: SyncResult[]) {
  return results.map(counts).reduce((a, b) => ({
    created: a.created + b.created,
    updated: a.updated + b.updated,
    deleted: a.deleted + b.deleted,
    unchanged: a.unchanged + b.unchanged,
    skipped: a.skipped + b.skipped,
  }));
}

const cliPath = await findOrBuildTemporalCli({ log });
const server = await startDevServer({ cliPath, uiPort: false, searchAttributes: SEARCH_ATTRIBUTES, log });
const connection = await Connection.connect({ address: server.address });
try {
  const client = new Client({ connection });
  const contracts = Array.from({ length: N }, (_, i) => contractNo(i));
  const sync = (contract: Contract) => syncContractSchedules({ client, taskQueue, contract, contractVersion: 1, workflowTypes });
  log(`${N} contracts × 4 schedules, concurrency ${CONCURRENCY}, dev server ${server.address}`);

  let t0 = performance.now();
  const first = await pool(contracts, CONCURRENCY, sync);
  let ms = performance.now() - t0;
  console.log(`activation   ${(ms / 1000).toFixed(2)} s total, ${(ms / N).toFixed(1)} ms per contract, ${JSON.stringify(total(first))}`);

  t0 = performance.now();
  const second = await pool(contracts, CONCURRENCY, sync);
  ms = performance.now() - t0;
  const t = total(second);
  const writes = t.created + t.updated + t.deleted;
  console.log(`second sync  ${(ms / 1000).toFixed(2)} s total, ${(ms / N).toFixed(1)} ms per contract, writes ${writes}, ${JSON.stringify(t)}`);
  if (writes !== 0) process.exitCode = 1;
} finally {
  await connection.close();
  await server.stop();
}
