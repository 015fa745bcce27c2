// What an agent step costs next to an engine-action step (docs/ARCHITECTURE.md "Agents"): the same
// no-op program (bench/noop.mjs) run by the engine worker, or by a party agent through the
// API (long poll, pickup signal, async completion with the task token), in one run on one
// dev server and one database.
//
//   npm run bench:agent-step   (env: BENCH_W=10 processes × BENCH_N=5 steps, BENCH_ROUNDS=2,
//                               BENCH_AGENT_CONCURRENCY=8 jobs at a time in the agent)
//
// Printed, not asserted: throughput (steps/s) and the median step latency (journal
// step.started → step.executed) of each kind, and their ratio.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, DefaultLogger, Runtime } from '@temporalio/worker';
import { parseAgentConfig, settingsOf } from '../agent/config';
import { startPartyAgent } from '../agent/runner';
import { loadConfig } from '../config/app-config';
import { issueApiKey } from '../db/api-keys';
import { readJournal } from '../db/journal';
import { startMandate } from '../scripts/mandate';
import { startDevServer } from '../scripts/dev-server';
import { findOrBuildTemporalCli } from '../scripts/temporal-cli';
import { loadContract } from '../scripts/load-example';
import { ActSigner, newSigningKeySpec, parseSigningKeys } from '../temporal/signing';
import { connectTemporal } from '../temporal/client';
import { EncryptionCodec, newCodecKeySpec, parseCodecKeys } from '../temporal/codec';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { aContract, aParty, CLIENT, PROVIDER } from '../test/support/builders';
import { createTestDatabase } from '../test/support/db';
import { silentLog, startProbe } from '../test/support/harness';

const W = Number(process.env.BENCH_W ?? 10);
const N = Number(process.env.BENCH_N ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const CONCURRENCY = Number(process.env.BENCH_AGENT_CONCURRENCY ?? 8);
const here = path.dirname(fileURLToPath(import.meta.url));
const noop = path.join(here, 'noop.mjs');
const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

type Kind = 'engine' | 'agent';

const contract = aContract()
  .with((c) => {
    c.id = 'ctr-bench-agent';
    c.parties[0] = aParty({ id: PROVIDER, kind: 'provider', contractedBy: undefined, users: [{ id: 'u-op', roles: ['operator'] }], agents: [{ id: 'ag-bench' }] });
    for (let i = 1; i <= N; i++) {
      c.responsibilities[`bench.engine-${i}`] = { R: { party: PROVIDER, by: 'engine', action: 'noop-program' }, A: PROVIDER, I: [CLIENT] };
      c.responsibilities[`bench.agent-${i}`] = { R: { party: PROVIDER, by: 'agent', action: 'noop-program' }, A: PROVIDER, I: [CLIENT] };
    }
  })
  .build();

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const [cliPath, bundle] = await Promise.all([
    findOrBuildTemporalCli({ log }),
    bundleWorkflowCode({ workflowsPath: path.join(here, 'bench-workflows.ts'), logger: new DefaultLogger('ERROR') }),
  ]);
  const dir = await mkdtemp(path.join(tmpdir(), 'mandate-bench-agent-'));
  const bundlePath = path.join(dir, 'bundle.js');
  await writeFile(bundlePath, bundle.code);
  const engineFile = path.join(dir, 'engine.yaml');
  await writeFile(engineFile, `actions:\n  noop-program: { program: node, args: [${JSON.stringify(noop)}], timeout: PT30S }\n`);

  const server = await startDevServer({ cliPath, uiPort: false, searchAttributes: SEARCH_ATTRIBUTES, log });
  const database = await createTestDatabase({ maxConnections: 10 });
  const codecKeys = newCodecKeySpec('bench');
  // The test's own client starts processes: it signs them as the API does (temporal/signing.ts).
  const signingKeys = newSigningKeySpec('bench');
  const taskQueue = 'bench-agent-step';
  const mandate = await startMandate({
    config: loadConfig({
      DATABASE_URL: database.url, TEMPORAL_ADDRESS: server.address, PORT: '0', MANDATE_DATA_DIR: path.join(dir, 'data'),
      MANDATE_TASK_QUEUE: taskQueue, MANDATE_ENGINE_CONFIG: engineFile, MANDATE_CODEC_KEYS: codecKeys, MANDATE_SIGNING_KEYS: signingKeys, MANDATE_LOAD_EXAMPLES: 'false', LOG_LEVEL: 'silent',
    }),
    log: silentLog,
    workflowBundlePath: bundlePath,
  });
  const temporal = await connectTemporal({ address: server.address, namespace: 'default', taskQueue, codec: new EncryptionCodec(parseCodecKeys(codecKeys)), signer: new ActSigner(parseSigningKeys(signingKeys)) });
  try {
    await loadContract(database.db, contract);
    const { key } = await issueApiKey(database.db, { partyId: PROVIDER, agentId: 'ag-bench', roles: ['agent'] });
    const agentFile = path.join(dir, 'agent.yaml');
    const agentConfig = parseAgentConfig(`
api: { url: ${mandate.apiUrl} }
key: { env: UNUSED }
concurrency: ${CONCURRENCY}
pollWait: PT5S
actions:
  noop-program: { program: node, args: [${JSON.stringify(noop)}], timeout: PT30S }
`, agentFile);
    const agent = startPartyAgent(settingsOf(agentConfig, key), { log: silentLog });

    let counter = 0;
    async function round(kind: Kind): Promise<{ steps: number; seconds: number; latencies: number[] }> {
      const steps = Array.from({ length: N }, (_, i) => ({ key: `bench.${kind}-${i + 1}` }));
      const started = performance.now();
      const handles = await Promise.all(Array.from({ length: W }, () =>
        startProbe(temporal.client, database.db, { taskQueue, contractId: contract.id, steps, requestedBy: { userId: 'u-op', partyId: PROVIDER }, businessKey: `${kind}-${++counter}` })));
      const results = await Promise.all(handles.map((h) => h.result() as Promise<{ outcome: string }[]>));
      const seconds = (performance.now() - started) / 1000;
      const failed = results.flat().filter((r) => r.outcome !== 'done').length;
      if (failed > 0) throw new Error(`${failed} ${kind} steps did not finish`);
      const latencies: number[] = [];
      for (const h of handles) {
        const journal = await readJournal(database.db, h.workflowId);
        const startedAt = new Map(journal.filter((e) => e.event === 'step.started').map((e) => [e.step_key, e.at.getTime()]));
        for (const e of journal.filter((x) => x.event === 'step.executed')) latencies.push(e.at.getTime() - (startedAt.get(e.step_key) ?? e.at.getTime()));
      }
      return { steps: W * N, seconds, latencies };
    }

    log(`warm-up, then ${ROUNDS} round(s) of ${W} processes × ${N} steps per kind (agent concurrency ${CONCURRENCY})`);
    await round('engine');
    await round('agent');
    const totals: Record<Kind, { steps: number; seconds: number; latencies: number[] }> = {
      engine: { steps: 0, seconds: 0, latencies: [] },
      agent: { steps: 0, seconds: 0, latencies: [] },
    };
    for (let r = 0; r < ROUNDS; r++) {
      for (const kind of (r % 2 === 0 ? ['engine', 'agent'] : ['agent', 'engine']) as Kind[]) {
        const result = await round(kind);
        totals[kind].steps += result.steps;
        totals[kind].seconds += result.seconds;
        totals[kind].latencies.push(...result.latencies);
      }
    }
    await agent.stop(5000);

    const rate = (k: Kind) => totals[k].steps / totals[k].seconds;
    const lat = (k: Kind) => median(totals[k].latencies);
    console.log('');
    console.log(`step kind  throughput (steps/s)  median latency (ms)`);
    console.log(`engine     ${rate('engine').toFixed(1).padStart(20)}  ${lat('engine').toFixed(0).padStart(19)}`);
    console.log(`agent      ${rate('agent').toFixed(1).padStart(20)}  ${lat('agent').toFixed(0).padStart(19)}`);
    console.log(`ratio agent/engine: throughput ${(rate('agent') / rate('engine')).toFixed(2)}, latency ${(lat('agent') / lat('engine')).toFixed(2)}×`);
  } finally {
    await temporal.close();
    await mandate.stop();
    await database.drop();
    await server.stop();
  }
}

main().then(() => process.exit(0), (error: unknown) => {
  console.error(error);
  process.exit(1);
});
