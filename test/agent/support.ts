// Set-up for agent-step tests: the launcher's own composition (API, engine worker) on the
// run's Temporal server and a fresh database, a contract whose rows are done by agents of
// two parties (and by the engine), agent keys, and in-process party agents.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import { loadConfig } from '../../config/app-config';
import { startMandate, type Mandate } from '../../scripts/mandate';
import { issueApiKey } from '../../db/api-keys';
import { readJournal } from '../../db/journal';
import type { JournalRow } from '../../db/schema';
import { parseAgentConfig, settingsOf } from '../../agent/config';
import { startPartyAgent, type PartyAgent } from '../../agent/runner';
import { ActSigner, newSigningKeySpec, parseSigningKeys } from '../../temporal/signing';
import { connectTemporal, type TemporalHandle } from '../../temporal/client';
import { EncryptionCodec, newCodecKeySpec, parseCodecKeys } from '../../temporal/codec';
import { aContract, aParty, CLIENT, PROVIDER, SUBCONTRACTOR } from '../support/builders';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { installQuietRuntime, taskQueueFor } from '../support/temporal';
import { seedContract, silentLog, startProbe, waitFor } from '../support/harness';
import type { ProbeStep } from '../support/test-workflows';

export const EFFECT_SCRIPT = fileURLToPath(new URL('./fixtures/effect.mjs', import.meta.url));
export const AGENTS = { [PROVIDER]: 'ag-acme', [SUBCONTRACTOR]: 'ag-dc-north' } as const;
export type AgentParty = keyof typeof AGENTS;

const timing = { pickupWithin: 'PT2S', heartbeatWithin: 'PT3S' } as const;
const byAgent = (party: string, action: string) => ({ R: { party, by: 'agent' as const, action }, A: PROVIDER, ...timing });

export const contract = aContract()
  .with((c) => {
    c.id = 'ctr-agents';
    c.parties = [
      aParty({ id: PROVIDER, kind: 'provider', contractedBy: undefined, users: [{ id: 'u-op', roles: ['operator'] }], agents: [{ id: AGENTS[PROVIDER] }] }),
      aParty({ id: CLIENT, kind: 'client', contractedBy: undefined, users: [{ id: 'u-cab', roles: ['approver'] }] }),
      aParty({ id: SUBCONTRACTOR, contractedBy: PROVIDER, users: [], agents: [{ id: AGENTS[SUBCONTRACTOR] }] }),
    ];
  })
  .withRow('t.engine-1', { R: { party: PROVIDER, by: 'engine', action: 'engine-effect' }, A: PROVIDER })
  .withRow('t.engine-2', { R: { party: PROVIDER, by: 'engine', action: 'engine-effect' }, A: PROVIDER })
  .withRow('t.agent-acme', byAgent(PROVIDER, 'record-effect'))
  .withRow('t.agent-dc', byAgent(SUBCONTRACTOR, 'record-effect'))
  .withRow('t.agent-dc-late', byAgent(SUBCONTRACTOR, 'record-effect'))
  .withRow('t.unknown', byAgent(PROVIDER, 'no-such-action'))
  .withRow('t.hang', byAgent(PROVIDER, 'record-effect'))
  .withRow('t.malicious', byAgent(PROVIDER, 'record-effect'))
  .withRow('t.too-long', byAgent(PROVIDER, 'record-effect'))
  .build();

export interface AgentWorld {
  mandate: Mandate;
  database: TestDatabase;
  temporal: TemporalHandle;
  dir: string;
  keys: Record<AgentParty | 'user', string>;
  /** The effects file of a party's agent (or `engine`). */
  effectsFile(who: AgentParty | 'engine'): string;
  startAgent(party: AgentParty, overrides?: { pollWaitMs?: number }): PartyAgent;
  startProcess(steps: ProbeStep[]): Promise<{ processId: string; result(): Promise<StepResultLike[]> }>;
  journal(processId: string): Promise<JournalRow[]>;
  call(who: AgentParty | 'user', method: string, url: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
  stop(): Promise<void>;
}

export interface StepResultLike {
  outcome: string;
  output?: unknown;
  reason?: string;
}

export async function startAgentWorld(testFile: string): Promise<AgentWorld> {
  installQuietRuntime();
  const database = await createTestDatabase();
  const dir = await mkdtemp(path.join(tmpdir(), 'mandate-agent-'));
  const effectsFile = (who: string) => path.join(dir, `${who}-effects.json`);
  const engineFile = path.join(dir, 'engine.yaml');
  await writeFile(engineFile, `
actions:
  engine-effect:
    program: node
    args: [${JSON.stringify(EFFECT_SCRIPT)}, --file, ${JSON.stringify(effectsFile('engine'))}, { param: label, flag: --label }]
    params: { label: { type: string, maxLength: 200 } }
`);
  const codecKeys = newCodecKeySpec('agents');
  // The test's own client starts processes: it signs them as the API does (temporal/signing.ts).
  const signingKeys = newSigningKeySpec('agents');
  const taskQueue = taskQueueFor(testFile);
  const config = loadConfig({
    DATABASE_URL: database.url,
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    PORT: '0',
    MANDATE_DATA_DIR: path.join(dir, 'data'),
    MANDATE_TASK_QUEUE: taskQueue,
    MANDATE_ENGINE_CONFIG: engineFile,
    MANDATE_CODEC_KEYS: codecKeys,
    MANDATE_SIGNING_KEYS: signingKeys,
    MANDATE_LOAD_EXAMPLES: 'false',
    LOG_LEVEL: 'silent',
  });
  const mandate = await startMandate({ config, log: silentLog, workflowBundlePath: inject('workflowBundlePath') });
  await seedContract(database.db, contract);
  const keys = {
    [PROVIDER]: (await issueApiKey(database.db, { partyId: PROVIDER, agentId: AGENTS[PROVIDER], roles: ['agent'] })).key,
    [SUBCONTRACTOR]: (await issueApiKey(database.db, { partyId: SUBCONTRACTOR, agentId: AGENTS[SUBCONTRACTOR], roles: ['agent'] })).key,
    user: (await issueApiKey(database.db, { partyId: PROVIDER, userId: 'u-op', roles: ['operator'] })).key,
  } as Record<AgentParty | 'user', string>;
  const temporal = await connectTemporal({ address: inject('temporalAddress'), namespace: 'default', taskQueue, codec: new EncryptionCodec(parseCodecKeys(codecKeys)), signer: new ActSigner(parseSigningKeys(signingKeys)) });
  const agents = new Set<PartyAgent>();

  const agentConfig = (party: AgentParty) => `
api: { url: ${mandate.apiUrl} }
key: { env: UNUSED }
heartbeatEvery: PT1S
pollWait: PT2S
actions:
  record-effect:
    program: node
    args: [${JSON.stringify(EFFECT_SCRIPT)}, --file, ${JSON.stringify(effectsFile(party))}, { param: label, flag: --label }, { param: hangOnce, flag: --hang-once }]
    params:
      label: { type: string, maxLength: 4096 }
      hangOnce: { type: string, maxLength: 4096, required: false }
    timeout: PT60S
`;

  return {
    mandate,
    database,
    temporal,
    dir,
    keys,
    effectsFile,
    startAgent(party, overrides = {}) {
      const file = path.join(dir, `${party}.yaml`);
      const settings = { ...settingsOf(parseAgentConfig(agentConfig(party), file), keys[party]), ...overrides };
      const agent = startPartyAgent(settings, { log: silentLog });
      agents.add(agent);
      return agent;
    },
    async startProcess(steps) {
      const handle = await startProbe(temporal.client, database.db, { taskQueue, contractId: contract.id, steps, requestedBy: { userId: 'u-op', partyId: PROVIDER } });
      return { processId: handle.workflowId, result: () => handle.result() as Promise<StepResultLike[]> };
    },
    journal: (processId) => readJournal(database.db, processId),
    async call(who, method, url, body) {
      const res = await fetch(`${mandate.apiUrl}${url}`, {
        method,
        headers: { authorization: `Bearer ${keys[who]}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
    },
    async stop() {
      await Promise.all([...agents].map((a) => a.stop(0)));
      await temporal.close();
      await mandate.stop();
      await database.drop();
    },
  };
}

export async function readEffects(file: string): Promise<{ effects: Record<string, { label: string }>; runs: Record<string, number> }> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as { effects: Record<string, { label: string }>; runs: Record<string, number> };
  } catch {
    return { effects: {}, runs: {} };
  }
}

/** Waits for a journal entry of the process with this event (and step). */
export function journalEntry(world: AgentWorld, processId: string, event: string, stepKey?: string, timeoutMs = 20_000): Promise<JournalRow> {
  return waitFor(`${event} in the journal of ${processId}`, async () => {
    const rows = await world.journal(processId);
    return rows.find((r) => r.event === event && (stepKey === undefined || r.step_key === stepKey));
  }, timeoutMs);
}

export { PROVIDER, SUBCONTRACTOR };
