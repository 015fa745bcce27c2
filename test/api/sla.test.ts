// The API derives an SLA clock's elapsed and remaining business time from the running
// process's state: running while the provider holds the incident, paused on the client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiWorld, openTaskOf, enc, type ApiWorld, type Json } from './support';
import { waitFor } from '../support/harness';

let world: ApiWorld;

beforeAll(async () => {
  world = await startApiWorld(import.meta.url);
}, 120_000);

afterAll(async () => {
  await world?.stop();
});

describe('SLA state through the API', () => {
  it('when a P1 incident is triaged, then its resolution clock runs; when n2 asks the client, then it is paused and says why', async () => {
    const opened = await world.call('client-op', 'POST', '/v1/contracts/ctr-martin-2027/processes', {
      type: 'incident',
      businessKey: 'inc-sla-1',
      input: { title: 'ERP down', description: 'nobody can log in', source: { kind: 'client' } },
    });
    expect(opened.status).toBe(201);
    const id = opened.body.id as string;
    const triage = await openTaskOf(world, 'provider-op', id, 'incident.triage');
    expect((await world.call('provider-op', 'POST', `/v1/tasks/${triage.id}/complete`, { payload: { priority: 'P1' } })).status).toBe(200);

    const running = await waitFor('a running clock', async () => {
      const res = await world.call('client-op', 'GET', `/v1/processes/${enc(id)}`);
      return (res.body.sla as Json | undefined)?.state === 'running' ? (res.body.sla as Json) : undefined;
    });
    expect(running).toMatchObject({ name: 'resolution', target: 'PT4H', pausedSince: null });
    expect(running.elapsedMs).toBeGreaterThanOrEqual(0);
    expect(running.remainingMs).toBeGreaterThan(4 * 3_600_000 - 120_000);

    const consult = await openTaskOf(world, 'subcontractor', id, 'incident.resolve');
    await world.call('subcontractor', 'POST', `/v1/tasks/${consult.id}/complete`, { comment: 'the VM is up on our side' });
    const resolve = await waitFor('the resolve task', async () => {
      const res = await world.call('provider-op', 'GET', `/v1/tasks?processId=${enc(id)}`);
      return (res.body.items as Json[]).find((t) => t.stepKey === 'incident.resolve' && t.kind === 'execute');
    });
    await world.call('provider-op', 'POST', `/v1/tasks/${resolve.id}/complete`, { payload: { waitingOn: 'client', question: 'Which users are affected?' } });

    const paused = await waitFor('a paused clock', async () => {
      const res = await world.call('client-op', 'GET', `/v1/processes/${enc(id)}`);
      return (res.body.sla as Json | undefined)?.state === 'paused' ? (res.body.sla as Json) : undefined;
    });
    expect(paused.pauseReason).toBe('waiting on martin');
    expect(paused.deadlineAt).toBeNull();
    const later = (await world.call('client-op', 'GET', `/v1/processes/${enc(id)}`)).body.sla as Json;
    expect(later.elapsedMs).toBe(paused.elapsedMs);
  });
});
