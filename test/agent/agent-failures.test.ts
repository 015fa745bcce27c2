// Agents that fail: one killed in the middle of a job (the engine offers the job again and
// the action acts once), one that never comes (the journal and R and A are told), and a
// pickup lost with the API that took it (offered again once silent for the heartbeat time),
// and a result recorded while no wait was attached (the next round takes it).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { getAgentJob, takeAgentJob } from '../../db/agent-jobs';
import { reofferSilentPickups } from '../../api/services/agent-jobs';
import { silentLog, waitFor } from '../support/harness';
import { AGENTS, journalEntry, PROVIDER, readEffects, startAgentWorld, SUBCONTRACTOR, type AgentWorld } from './support';

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

  it('when the API took a job for an agent and died before the process or the agent heard of it, then the job is offered again once silent for its heartbeat time and done once', async () => {
    const { processId, result } = await world.startProcess([{ key: 't.agent-dc', params: { label: 'lost-pickup' } }]);
    const key = `${processId}:t.agent-dc`;
    const offered = await waitFor('the job to be offered', async () => {
      const row = await world.database.db.selectFrom('agent_jobs').selectAll().where('process_id', '=', processId).executeTakeFirst();
      return row?.status === 'offered' ? row : undefined;
    });
    // What a poll does before it signals the process: the API dies right there.
    const taken = await takeAgentJob(world.database.db, { partyId: SUBCONTRACTOR, agentId: AGENTS[SUBCONTRACTOR] });
    expect(taken).toMatchObject({ id: offered.id, status: 'running', task_token: null });
    // Within the step's heartbeatWithin (PT3S) the pickup may still be on its way: left alone.
    expect(await reofferSilentPickups({ db: world.database.db, log: silentLog })).toEqual([]);

    const dc = world.startAgent(SUBCONTRACTOR);
    try {
      // The API's reconciliation (every 15 s) does this; the test does not wait for its timer.
      await waitFor('the silent pickup to be offered again', async () => {
        await reofferSilentPickups({ db: world.database.db, log: silentLog });
        const row = await getAgentJob(world.database.db, offered.id);
        return row && (row.status !== 'running' || row.picked_at?.getTime() !== taken!.picked_at?.getTime()) ? row : undefined;
      }, 20_000);
      const [step] = await result();
      expect(step).toMatchObject({ outcome: 'done', output: { key, label: 'lost-pickup', applied: true } });
      expect((await readEffects(world.effectsFile(SUBCONTRACTOR))).runs[key]).toBe(1);
      expect(await getAgentJob(world.database.db, offered.id)).toMatchObject({ status: 'succeeded', agent_id: AGENTS[SUBCONTRACTOR] });
      // The process heard of one pickup only: the one the agent got.
      const journal = await world.journal(processId);
      expect(journal.filter((e) => e.event === 'agent.picked-up')).toHaveLength(1);
      expect(journal.filter((e) => e.event === 'step.executed').map((e) => e.actor)).toEqual([`agent:${AGENTS[SUBCONTRACTOR]}`]);
    } finally {
      await dc.stop(0);
    }
  });

  it("when the engine's wait died before it attached and the agent's result came before the wait timed out, then the next round takes the recorded result: the step neither hangs nor acts twice", async () => {
    const { processId, result } = await world.startProcess([{ key: 't.agent-dc', params: { label: 'unattached' } }]);
    // The agent takes the job and works, heartbeating nothing (its heartbeats are relayed to no token anyway).
    const taken = await world.call(SUBCONTRACTOR, 'GET', '/v1/agent/jobs?wait=5');
    expect(taken.status).toBe(200);
    const jobId = String(taken.body.id);
    await waitFor('the wait to attach', async () => (await getAgentJob(world.database.db, jobId))?.task_token ?? undefined);
    // As if the worker running the wait died before attaching: the row knows no token.
    await world.database.db.updateTable('agent_jobs').set({ task_token: null }).where('id', '=', jobId).execute();
    const posted = await world.call(SUBCONTRACTOR, 'POST', `/v1/agent/jobs/${jobId}/result`, { ok: true, output: { label: 'unattached', applied: true } });
    expect(posted.status).toBe(202);
    expect(await getAgentJob(world.database.db, jobId)).toMatchObject({ status: 'succeeded' });

    // The wait times out (PT3S without heartbeats), the job is offered again: its result is kept and taken.
    const [step] = await result();
    expect(step).toMatchObject({ outcome: 'done', output: { label: 'unattached', applied: true } });
    const journal = await world.journal(processId);
    expect(journal.filter((e) => e.event === 'agent.silent')).toHaveLength(1);
    expect(journal.filter((e) => e.event === 'agent.picked-up')).toHaveLength(2);
    expect(journal.filter((e) => e.event === 'step.executed')).toHaveLength(1);
    expect(await getAgentJob(world.database.db, jobId)).toMatchObject({ status: 'succeeded', output: { label: 'unattached', applied: true } });
  });
});
