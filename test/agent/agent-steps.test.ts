// Agent steps through the real API and the real engine: a process alternating engine and
// agent actions of two parties, party isolation, unknown actions, hostile parameters and
// a result posted twice.
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

async function offeredJob(processId: string) {
  return waitFor('the job to be offered', async () => {
    const row = await world.database.db.selectFrom('agent_jobs').selectAll().where('process_id', '=', processId).executeTakeFirst();
    return row?.status === 'offered' ? row : undefined;
  });
}

describe('agent steps', () => {
  it('when a process alternates engine actions and agent actions of two parties, then it completes and each party did its own steps', async () => {
    const acme = world.startAgent(PROVIDER);
    const dc = world.startAgent(SUBCONTRACTOR);
    try {
      const { processId, result } = await world.startProcess([
        { key: 't.engine-1', params: { label: 'e1' } },
        { key: 't.agent-acme', params: { label: 'a1' } },
        { key: 't.engine-2', params: { label: 'e2' } },
        { key: 't.agent-dc', params: { label: 'd1' } },
      ]);
      const results = await result();
      expect(results.map((r) => r.outcome)).toEqual(['done', 'done', 'done', 'done']);
      expect(results[1]!.output).toMatchObject({ key: `${processId}:t.agent-acme`, label: 'a1', applied: true });

      const executed = (await world.journal(processId)).filter((e) => e.event === 'step.executed').map((e) => [e.step_key, e.party_id, e.actor]);
      expect(executed).toEqual([
        ['t.engine-1', PROVIDER, 'engine:engine-effect'],
        ['t.agent-acme', PROVIDER, 'agent:ag-acme'],
        ['t.engine-2', PROVIDER, 'engine:engine-effect'],
        ['t.agent-dc', SUBCONTRACTOR, 'agent:ag-dc-north'],
      ]);
      expect(Object.keys((await readEffects(world.effectsFile(PROVIDER))).effects)).toEqual([`${processId}:t.agent-acme`]);
      expect(Object.keys((await readEffects(world.effectsFile(SUBCONTRACTOR))).effects)).toEqual([`${processId}:t.agent-dc`]);
    } finally {
      await Promise.all([acme.stop(0), dc.stop(0)]);
    }
  });

  it("when a job is offered to one party, then another party's agent never receives it and gets 404 for its id; a second result is 409 and changes nothing", async () => {
    const { processId, result } = await world.startProcess([{ key: 't.agent-dc', params: { label: 'only-dc' } }]);
    const job = await offeredJob(processId);

    expect((await world.call(PROVIDER, 'GET', '/v1/agent/jobs?wait=1')).status).toBe(204);
    expect((await world.call(PROVIDER, 'POST', `/v1/agent/jobs/${job.id}/heartbeat`, {})).status).toBe(404);
    expect((await world.call(PROVIDER, 'POST', `/v1/agent/jobs/${job.id}/result`, { ok: true, output: { forged: true } })).status).toBe(404);
    expect((await world.call(PROVIDER, 'POST', '/v1/agent/jobs/job_nope/result', { ok: true, output: {} })).status).toBe(404);
    expect((await world.call('user', 'GET', '/v1/agent/jobs')).status).toBe(403);
    expect((await getAgentJob(world.database.db, job.id))?.status).toBe('offered');

    const taken = await world.call(SUBCONTRACTOR, 'GET', '/v1/agent/jobs?wait=5');
    expect(taken.status).toBe(200);
    expect(taken.body).toMatchObject({ id: job.id, action: 'record-effect', params: { label: 'only-dc' }, idempotencyKey: `${processId}:t.agent-dc`, processId, stepKey: 't.agent-dc', heartbeatEvery: 'PT1S' });
    expect((await world.call(SUBCONTRACTOR, 'POST', `/v1/agent/jobs/${job.id}/heartbeat`, { details: { progress: 50 } })).body).toEqual({ cancelRequested: false });

    const tooBig = await world.call(SUBCONTRACTOR, 'POST', `/v1/agent/jobs/${job.id}/result`, { ok: true, output: { blob: 'x'.repeat(70_000) } });
    expect(tooBig.status).toBe(413);

    const first = await world.call(SUBCONTRACTOR, 'POST', `/v1/agent/jobs/${job.id}/result`, { ok: true, output: { snapshot: 'first' } });
    expect([200, 202]).toContain(first.status);
    const second = await world.call(SUBCONTRACTOR, 'POST', `/v1/agent/jobs/${job.id}/result`, { ok: true, output: { snapshot: 'second' } });
    expect(second.status).toBe(409);
    expect(second.body).toMatchObject({ status: 409, jobStatus: 'succeeded' });
    expect((await world.call(SUBCONTRACTOR, 'POST', `/v1/agent/jobs/${job.id}/heartbeat`, {})).status).toBe(409);

    const [step] = await result();
    expect(step).toMatchObject({ outcome: 'done', output: { snapshot: 'first' } });
    expect((await getAgentJob(world.database.db, job.id))?.output).toEqual({ snapshot: 'first' });
  });

  it('when a job names an action the agent does not define, then the step fails with the reason in the journal', async () => {
    const acme = world.startAgent(PROVIDER);
    try {
      const { processId, result } = await world.startProcess([{ key: 't.unknown' }]);
      const [step] = await result();
      expect(step).toMatchObject({ outcome: 'failed' });
      expect(step!.reason).toMatch(/action "no-such-action" is not defined/);
      const failed = await journalEntry(world, processId, 'step.failed', 't.unknown');
      expect((failed.data as { reason: string }).reason).toMatch(/not defined in this runner's configuration/);
      // Not retryable: offered once, never again.
      const job = await world.database.db.selectFrom('agent_jobs').selectAll().where('process_id', '=', processId).executeTakeFirstOrThrow();
      expect(job).toMatchObject({ status: 'failed', retryable: false, attempt: 1 });
    } finally {
      await acme.stop(0);
    }
  });

  it('when a parameter is hostile, then it reaches the program as one literal argument or the schema refuses it', async () => {
    const marker = path.join(world.dir, 'PWNED');
    const hostile = `; rm -rf / $(touch ${marker}) \`touch ${marker}\` | cat /etc/passwd && echo "x" > ${marker}`;
    const acme = world.startAgent(PROVIDER);
    try {
      const { processId, result } = await world.startProcess([
        { key: 't.malicious', params: { label: hostile } },
        { key: 't.too-long', params: { label: 'x'.repeat(5000) } },
      ]);
      const [literal, tooLong] = await result();
      expect(literal).toMatchObject({ outcome: 'done' });
      const argv = (literal!.output as { argv: string[] }).argv;
      expect(argv.slice(-2)).toEqual(['--label', hostile]);
      expect(existsSync(marker)).toBe(false);
      expect(tooLong).toMatchObject({ outcome: 'failed' });
      expect(tooLong!.reason).toMatch(/invalid params: label/);
      const effects = await readEffects(world.effectsFile(PROVIDER));
      expect(effects.effects[`${processId}:t.malicious`]?.label).toBe(hostile);
      expect(effects.runs[`${processId}:t.too-long`]).toBeUndefined();
    } finally {
      await acme.stop(0);
    }
  });
});
