// Runbooks through the HTTP API: registration by the provider's operators, versions read by
// everyone, malformed documents refused with JSON pointers, and runs that pin their version.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJournal } from '../../db/journal';
import { getProcess } from '../../db/processes';
import { waitFor } from '../support/harness';
import { enc, openTaskOf, paths, startApiWorld, type ApiWorld, type Json } from './support';

let world: ApiWorld;
const call: ApiWorld['call'] = (...args) => world.call(...args);
const CONTRACT = '/v1/contracts/ctr-martin-2027/processes';

// Keys of examples/contract.yaml whose actions the test engine runs: a person step of the
// client's HR, then the provider's directory engine action.
const v1 = {
  key: 'pin-test',
  title: 'Pinning test',
  service: 'bpo-hr',
  input: { username: { type: 'string', pattern: '^[a-z][a-z0-9.-]{1,63}$' } },
  steps: [{ id: 'ask', activityKey: 'hr.request-account', params: { username: { var: 'input.username' } } }],
};
const v2 = {
  ...v1,
  steps: [
    ...v1.steps,
    { id: 'create', activityKey: 'iam.create-accounts', params: { username: { var: 'input.username' }, displayName: 'Pin Test', department: 'QA' } },
  ],
};

beforeAll(async () => {
  world = await startApiWorld(import.meta.url);
});

afterAll(async () => {
  await world?.stop();
});

async function finished(id: string): Promise<string> {
  return waitFor(`${id} to end`, async () => {
    const status = (await getProcess(world.mandate.database.db, id))?.status;
    return status === 'running' ? undefined : status;
  });
}

const executedSteps = async (id: string) => (await readJournal(world.mandate.database.db, id)).filter((e) => e.event === 'step.completed').map((e) => e.step_key);

describe('POST /v1/runbooks', () => {
  it('when a provider operator registers, then versions follow each other and the same document registers nothing', async () => {
    const first = await call('provider-op', 'POST', '/v1/runbooks', v1);
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ key: 'pin-test', version: 1, service: 'bpo-hr', createdBy: 'u-marc', createdByParty: 'nuvola' });
    expect(first.body.definition.steps[0].onFailure).toBe('stop');
    const again = await call('provider-admin', 'POST', '/v1/runbooks', v1);
    expect(again).toMatchObject({ status: 200, body: { version: 1 } });
  });

  it('when a client or a vendor registers, then 403; everyone reads', async () => {
    expect((await call('client-op', 'POST', '/v1/runbooks', { ...v1, key: 'by-client' })).status).toBe(403);
    expect((await call('vendor', 'POST', '/v1/runbooks', { ...v1, key: 'by-vendor' })).status).toBe(403);
    const list = await call('client-viewer', 'GET', '/v1/runbooks');
    expect(list.status).toBe(200);
    expect(list.body.items).toContainEqual(expect.objectContaining({ key: 'pin-test', latestVersion: expect.any(Number) }));
    expect((await call('vendor', 'GET', '/v1/runbooks/pin-test/versions/1')).body).toMatchObject({ key: 'pin-test', version: 1 });
    expect((await call('client-viewer', 'GET', '/v1/runbooks/nope')).status).toBe(404);
    expect((await call('client-viewer', 'GET', '/v1/runbooks/pin-test/versions/99')).status).toBe(404);
    expect((await call(undefined, 'GET', '/v1/runbooks')).status).toBe(401);
  });

  it('when the runbook is malformed, then 422 lists each fault with its JSON pointer', async () => {
    const res = await call('provider-op', 'POST', '/v1/runbooks', {
      ...v1,
      key: 'broken',
      steps: [
        { id: 'a', activityKey: 'hr.request-account', when: { '==': [{ var: 'steps.b.outcome' }, 'done'] } },
        { id: 'a', activityKey: 'iam.create-accounts', onFailure: 'compensate' },
        { id: 'c', activityKey: 'onboarding.confirm', when: { method: ['x', 'toString'] } },
      ],
    });
    expect(res.status).toBe(422);
    expect(res.type).toMatch(/problem\+json/);
    expect(res.body.type).toBe('/problems/invalid-runbook');
    expect(paths(res.body)).toEqual(['/steps/0/when/==/0/var', '/steps/1/id', '/steps/1/onFailure', '/steps/2/when/method']);
    expect((await call('provider-op', 'POST', '/v1/runbooks', { ...v1, steps: [] })).status).toBe(422);
    expect((await call('provider-op', 'GET', '/v1/runbooks/broken')).status).toBe(404);
  });
});

describe('starting a runbook', () => {
  it('when v2 is registered while a run of v1 waits, then that run keeps v1 and a new run gets v2', async () => {
    const started = await call('provider-op', 'POST', CONTRACT, { type: 'runbook', businessKey: 'pin-1', input: { runbook: 'pin-test', input: { username: 'pin.one' } } });
    expect(started.status).toBe(201);
    const id = started.body.id as string;
    const task = await openTaskOf(world, 'client-op', id, 'hr.request-account');
    expect(task.details).toMatchObject({ runbook: 'pin-test', version: 1, step: 'ask', params: { username: 'pin.one' } });

    const second = await call('provider-op', 'POST', '/v1/runbooks', v2);
    expect(second).toMatchObject({ status: 201, body: { version: 2 } });
    expect((await call('client-op', 'GET', '/v1/runbooks/pin-test')).body).toMatchObject({ version: 2, versions: [1, 2] });

    expect((await call('client-op', 'POST', `/v1/tasks/${enc(task.id as string)}/complete`, {})).status).toBe(200);
    expect(await finished(id)).toBe('completed');
    expect(await executedSteps(id)).toEqual(['hr.request-account']);

    const latest = await call('provider-op', 'POST', CONTRACT, { type: 'runbook', businessKey: 'pin-2', input: { runbook: 'pin-test', input: { username: 'pin.two' } } });
    const next = await openTaskOf(world, 'client-op', latest.body.id as string, 'hr.request-account');
    expect(next.details).toMatchObject({ version: 2 });
    await call('client-op', 'POST', `/v1/tasks/${enc(next.id as string)}/complete`, {});
    expect(await finished(latest.body.id as string)).toBe('completed');
    expect(await executedSteps(latest.body.id as string)).toEqual(['hr.request-account', 'iam.create-accounts']);
  });

  it('when a version is named, then that version runs', async () => {
    const res = await call('provider-op', 'POST', CONTRACT, { type: 'runbook', businessKey: 'pin-v1', input: { runbook: 'pin-test', version: 1, input: { username: 'pin.three' } } });
    expect(res.status).toBe(201);
    expect((await openTaskOf(world, 'client-op', res.body.id as string, 'hr.request-account')).details).toMatchObject({ version: 1 });
  });

  it('when the runbook, its version or its input is wrong, then 422 or 400 names it', async () => {
    const start = (input: unknown, businessKey = 'bad') => call('provider-op', 'POST', CONTRACT, { type: 'runbook', businessKey, input });
    expect((await start({ runbook: 'nope', input: {} })).body).toMatchObject({ status: 422, type: '/problems/unknown-runbook' });
    expect((await start({ runbook: 'pin-test', version: 9, input: {} })).body).toMatchObject({ status: 422, type: '/problems/unknown-runbook' });
    const badInput = await start({ runbook: 'pin-test', input: { username: 'Not Valid', extra: 1 } });
    expect(badInput.status).toBe(400);
    expect(paths(badInput.body).sort()).toEqual(['body.input.input', 'body.input.input.username']);
    const smuggled = await start({ runbook: 'pin-test', input: { username: 'a.b' }, definition: v1 });
    expect(paths(smuggled.body)).toEqual(['body.input.definition']);
  });

  it('when the contract lacks the runbook\'s service or an activity, then 422 lists what is missing', async () => {
    await call('provider-op', 'POST', '/v1/runbooks', { key: 'finance-run', title: 'Finance', service: 'bpo-finance', steps: [{ id: 'pay', activityKey: 'finance.pay' }] });
    const res = await call('provider-op', 'POST', CONTRACT, { type: 'runbook', businessKey: 'fin-1', input: { runbook: 'finance-run' } });
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ type: '/problems/not-covered', missingServices: ['bpo-finance'], missingActivities: ['finance.pay'] });
  });
});

describe('GET /v1/runbooks', () => {
  const page = (key: string) => ({ key, title: `Paging ${key}`, service: 'bpo-hr', steps: [{ id: 'ask', activityKey: 'hr.request-account' }] });

  it('when runbooks are listed a page at a time, then every key comes once, by key, with its latest version', async () => {
    for (const key of ['page-a', 'page-b', 'page-c', 'page-d', 'page-e']) expect((await call('provider-op', 'POST', '/v1/runbooks', page(key))).status).toBe(201);
    expect((await call('provider-op', 'POST', '/v1/runbooks', { ...page('page-c'), title: 'Paging again' })).body).toMatchObject({ version: 2 });
    const latest = await world.mandate.database.db
      .selectFrom('runbooks')
      .select(['key', (eb) => eb.fn.max('version').as('version')])
      .groupBy('key')
      .orderBy('key')
      .execute();
    expect(latest.length).toBeGreaterThan(5);

    const seen: Json[] = [];
    let next: string | null = null;
    let pages = 0;
    do {
      const res: { status: number; body: Json } = await call('vendor', 'GET', `/v1/runbooks?limit=2${next ? `&after=${next}` : ''}`);
      expect(res.status).toBe(200);
      expect((res.body.items as Json[]).length).toBeLessThanOrEqual(2);
      seen.push(...(res.body.items as Json[]));
      next = res.body.next as string | null;
      pages += 1;
    } while (next);
    expect(seen.map((r) => [r.key, r.latestVersion])).toEqual(latest.map((r) => [r.key, r.version]));
    expect(pages).toBe(Math.ceil(latest.length / 2));
    expect(seen.find((r) => r.key === 'page-c')).toMatchObject({ title: 'Paging again', latestVersion: 2 });
    expect((await call('client-viewer', 'GET', '/v1/runbooks?limit=200')).body).toEqual({ items: seen, next: null });
  });

  it('when the limit or the cursor is wrong, then 400 names query.limit or query.after', async () => {
    const cursor = (key: unknown) => Buffer.from(JSON.stringify(key)).toString('base64url');
    for (const [query, field] of [
      ['limit=0', 'query.limit'], ['limit=201', 'query.limit'], ['limit=many', 'query.limit'],
      ['after=garbage', 'query.after'], [`after=${cursor([7])}`, 'query.after'], [`after=${cursor(['page-a', 'x'])}`, 'query.after'],
      ['colour=red', 'query'],
    ] as const) {
      const res = await call('client-viewer', 'GET', `/v1/runbooks?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.type).toMatch(/problem\+json/);
      expect(paths(res.body), query).toEqual([field]);
    }
  });
});
