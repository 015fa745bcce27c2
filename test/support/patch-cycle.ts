// What patch-cycle tests and the replay recording share: the `publish-report` engine action
// writing into a temp dir, and fake agents of the server parties answering every job.
import { randomUUID } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import type { Kysely } from 'kysely';
import { parseEngineConfig, type EngineConfig } from '../../config/engine-config';
import type { AgentJobRow, Schema } from '../../db/schema';
import { FakeAgent, type FakeResult } from './fake-agent';

/** The example `publish-report` action (examples/engine.yaml), writing under a fresh temp dir. */
export async function reportEngineConfig(): Promise<EngineConfig> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mandate-reports-'));
  const script = fileURLToPath(new URL('../../examples/actions/publish-report.mjs', import.meta.url));
  const file = path.join(dir, 'engine.yaml');
  const text = `
actions:
  publish-report:
    program: node
    args: [${JSON.stringify(script)}, { param: contractId, flag: --contract }, { param: period, flag: --period }, { param: kind, flag: --kind }, { param: title, flag: --title }, { param: data, flag: --data }]
    params:
      contractId: { type: string, pattern: '^[a-z0-9][a-z0-9-]{0,63}$' }
      period: { type: string, pattern: '^\\d{4}-(0[1-9]|1[0-2])$' }
      kind: { type: string, enum: [sla, billing, activity] }
      title: { type: string, minLength: 1, maxLength: 200 }
      data: { type: string, maxLength: 60000, required: false }
    env: { MANDATE_REPORTS_DIR: ${JSON.stringify(path.join(dir, 'reports'))} }
    timeout: PT30S
`;
  await writeFile(file, text);
  return parseEngineConfig(text, file);
}

export interface ServerAgents {
  /** Every job answered, as `party action asset`, in order. */
  readonly done: string[];
  /** Health checks of these servers fail. */
  readonly unhealthy: Set<string>;
  stop(): Promise<void>;
}

/** The infra actions of examples/agents/, answered in memory: snapshot ids look like the real ones. */
export function infraResult(job: AgentJobRow, unhealthy: ReadonlySet<string>): FakeResult {
  const params = job.params as { asset?: unknown; snapshot?: unknown };
  const asset = String(params.asset);
  switch (job.action) {
    case 'vm-snapshot':
      return { ok: true, output: { snapshot: { id: `snap-${randomUUID()}`, asset } } };
    case 'apply-os-patches':
      return { ok: true, output: { patch: { asset, level: '2027-03' } } };
    case 'health-check':
      return unhealthy.has(asset) ? { ok: false, reason: `${asset}: service did not come back` } : { ok: true, output: { health: { asset, status: 'healthy' } } };
    case 'vm-restore':
      return { ok: true, output: { restore: { asset, from: params.snapshot ?? 'latest' } } };
    default:
      return { ok: false, reason: `the agent defines no action ${job.action}` };
  }
}

/** One fake agent per party (party id → agent id), each answering jobs until stop(). */
export function serveServerAgents(db: Kysely<Schema>, client: Client, agents: Record<string, string>): ServerAgents {
  const done: string[] = [];
  const unhealthy = new Set<string>();
  let running = true;
  const serve = async (agent: FakeAgent) => {
    while (running) {
      try {
        await agent.handle((job) => {
          done.push(`${job.party_id} ${job.action} ${String((job.params as { asset?: unknown }).asset)}`);
          return infraResult(job, unhealthy);
        }, 1_000);
      } catch {
        // No job within a second (or the run is ending): ask again.
      }
    }
  };
  const loops = Object.entries(agents).map(([partyId, agentId]) => serve(new FakeAgent(db, client, partyId, agentId)));
  return {
    done,
    unhealthy,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}
