// `npm start` runs the example contract's party agents in-process (MANDATE_START_AGENTS):
// one per party that has `by: agent` rows and an examples/agents/<party>.yaml, each with a
// key of its own issued on first start and kept in the data dir (0600).
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Schema } from '../db/schema';
import { findPrincipalByKey, issueApiKey } from '../db/api-keys';
import type { Contract } from '../domain/contract';
import { parseAgentConfig, settingsOf } from './config';
import { startPartyAgent, type PartyAgent } from './runner';

export interface ExampleAgents {
  agents: { partyId: string; agentId: string; agent: PartyAgent }[];
  stop(): Promise<void>;
}

/** Parties that do some step `by: agent` in the contract. */
export function agentParties(contract: Pick<Contract, 'responsibilities'>): string[] {
  const parties = new Set<string>();
  for (const entry of Object.values(contract.responsibilities)) {
    for (const row of Array.isArray(entry) ? entry : [entry]) if (row.R.by === 'agent') parties.add(row.R.party);
  }
  return [...parties].sort();
}

export async function startExampleAgents(opts: {
  db: Kysely<Schema>;
  contract: Contract;
  dataDir: string;
  apiUrl: string;
  log: Logger;
  agentsDir?: string;
  /** How long running jobs may finish when stopping (default 5 s; then the engine offers them again). */
  graceMs?: number;
}): Promise<ExampleAgents> {
  const agentsDir = path.resolve(opts.agentsDir ?? 'examples/agents');
  const started: ExampleAgents['agents'] = [];
  for (const partyId of agentParties(opts.contract)) {
    const file = path.join(agentsDir, `${partyId}.yaml`);
    const agentId = opts.contract.parties.find((p) => p.id === partyId)?.agents[0]?.id;
    if (!agentId || !existsSync(file)) {
      opts.log.info({ partyId }, 'no example agent for this party (no agent in the contract or no config file)');
      continue;
    }
    const key = await agentKey(opts.db, opts.dataDir, partyId, agentId);
    const config = parseAgentConfig(await readFile(file, 'utf8'), file);
    const settings = { ...settingsOf(config, key), apiUrl: opts.apiUrl };
    const agent = startPartyAgent(settings, { log: opts.log.child({ component: 'agent', partyId, agentId }) });
    started.push({ partyId, agentId, agent });
    opts.log.info({ partyId, agentId, config: file }, 'example party agent started');
  }
  return {
    agents: started,
    async stop() {
      await Promise.all(started.map((a) => a.agent.stop(opts.graceMs ?? 5000)));
    },
  };
}

/** The agent's key from the data dir; issued (and written 0600) when missing or no longer valid. */
async function agentKey(db: Kysely<Schema>, dataDir: string, partyId: string, agentId: string): Promise<string> {
  const dir = path.join(dataDir, 'agent-keys');
  const file = path.join(dir, `${partyId}.key`);
  if (existsSync(file)) {
    const key = (await readFile(file, 'utf8')).trim();
    const principal = await findPrincipalByKey(db, key);
    if (principal?.agentId === agentId) return key;
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const { key } = await issueApiKey(db, { partyId, agentId, roles: ['agent'] });
  await writeFile(file, `${key}\n`, { mode: 0o600 });
  return key;
}
