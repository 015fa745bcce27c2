// Agents that fail: one killed in the middle of a job (the engine offers the job again and
// the action acts once), and one that never comes (the journal and R and A are told).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { getAgentJob } from '../../db/agent-jobs';
import { waitFor } from '../support/harness';
import { journalEntry, PROVIDER, readEffects, startAgentWorld, SUBCONTRACTOR, type AgentWorld } from './support';

let world: AgentWorld;

beforeAll(async () => {
  world = await startAgentWorld(import.meta.url);
});

afterAll(async () => {
  await world?.stop();
});

describe('agents that fail', () => {
  it('when an agent is killed in the middle of a job, then after its restart the job is retried once and acts once', async () => {
    const marker = path.join(world.dir, 'hang-once');
    const first = world.startAgent(PROVIDER);
    const { processId, result } = await world.startProcess([{ key: 't.hang', params: { label: 'h', hangOnce: marker } }]);
    const key = `${processId}:t.hang`;
    await waitFor('the action to start and hang', async () => (await readEffects(world.effectsFile(PROVIDER))).runs[key] === 1 && existsSync(marker));
    // The agent may take the job before the engine's waiting activity attaches to it (attempt 1).
    const job = await waitFor('the engine to wait on the running job', async () => {
      const row = await world.database.db.selectFrom('agent_jobs').selectAll().where('process_id', '=', processId).executeTakeFirst();
      return row?.attempt === 1 ? row : undefined;
    });
    expect(job).toMatchObject({ status: 'running', agent_id: 'ag-acme', attempt: 1 });

    await first.stop(0); // killed: no result, no more heartbeats
    const restarted = world.startAgent(PROVIDER);
    try {
      const [step] = await result();
      expect(step).toMatchObject({ outcome: 'done', output: { key, applied: false, runs: 2 } });
      const effects = await readEffects(world.effectsFile(PROVIDER));
      expect(effects.runs[key]).toBe(2);
      expect(Object.keys(effects.effects).filter((k) => k === key)).toHaveLength(1);
      // The workflow noticed the silence and offered the same job again (a new wait, attempt 1).
      expect(await getAgentJob(world.database.db, job.id)).toMatchObject({ status: 'succeeded', attempt: 1 });
      const journal = await world.journal(processId);
      expect(journal.filter((e) => e.event === 'agent.silent')).toHaveLength(1);
      expect(journal.filter((e) => e.event === 'agent.picked-up')).toHaveLength(2);
      const executed = journal.filter((e) => e.event === 'step.executed');
      expect(executed.map((e) => e.actor)).toEqual(['agent:ag-acme']);
    } finally {
      await restarted.stop(0);
    }
  });

  it('when no agent comes, then the journal shows agent.not-picked-up, R and A get a notice, and a late agent still does the step', async () => {
    const { processId, result } = await world.startProcess([{ key: 't.agent-dc-late', params: { label: 'late' } }]);
    const late = await journalEntry(world, processId, 'agent.not-picked-up', 't.agent-dc-late');
    expect(late.party_id).toBe(SUBCONTRACTOR);
    const notices = await waitFor('the notices to R and A', async () => {
      const rows = await world.database.db.selectFrom('outbox').select(['party_id', 'event']).where('event', '=', 'agent.not-picked-up').execute();
      const parties = rows.map((r) => r.party_id).sort();
      return parties.length >= 2 ? parties : undefined;
    });
    expect(notices).toEqual([PROVIDER, SUBCONTRACTOR].sort());

    const dc = world.startAgent(SUBCONTRACTOR);
    try {
      const [step] = await result();
      expect(step).toMatchObject({ outcome: 'done', output: { label: 'late', applied: true } });
      const executed = await journalEntry(world, processId, 'step.executed', 't.agent-dc-late');
      expect(executed.actor).toBe('agent:ag-dc-north');
    } finally {
      await dc.stop(0);
    }
  });
});
