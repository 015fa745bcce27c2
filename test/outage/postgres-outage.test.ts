// Issue 11: PostgreSQL unreachable for 30 s while onboardings run. Mandate (API, worker,
// outbox, in-process) reaches PostgreSQL only through a TCP proxy this test cuts: existing
// connections are killed and new ones refused or left unanswered. Meanwhile the API answers
// 503 problem+json with Retry-After within seconds; once the line is back every process
// resumes and completes, each task completed once, each journal intact, each effect once.
//
// MANDATE_TEST_PG_OUTAGE_MS (default 30000) sets how long the line is cut;
// MANDATE_TEST_PG_OUTAGE_MODE (`blackhole,refuse` by default) which ways new connections fail.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { verifyJournal } from '../../db/journal';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { installQuietRuntime } from '../support/temporal';
import { waitFor } from '../support/harness';
import { startTcpProxy, type ProxyMode, type TcpProxy } from '../support/tcp-proxy';
import { driveToEnd, EXECUTED, onboardingOf, processIdOf, readDirectory, sleep, startOutageMandate, usernameOf, type Answer, type OutageMandate } from './support';

const OUTAGE_MS = Number(process.env.MANDATE_TEST_PG_OUTAGE_MS ?? 30_000);
const MODES = (process.env.MANDATE_TEST_PG_OUTAGE_MODE ?? 'blackhole,refuse').split(',');
/** The longest an answer may take during the outage: the pool's connect timeout (5 s) and some slack. */
const MAX_OUTAGE_ANSWER_MS = 8_000;

let database: TestDatabase;
let proxy: TcpProxy;
let m: OutageMandate;

beforeAll(async () => {
  installQuietRuntime();
  database = await createTestDatabase();
  const target = new URL(database.url);
  proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  m = await startOutageMandate({ databaseUrl: proxy.via(database.url), temporalAddress: inject('temporalAddress'), testFile: import.meta.url });
});

afterAll(async () => {
  proxy?.setMode('forward');
  await m?.mandate.stop();
  await proxy?.close();
  await database?.drop();
});

async function openTaskOf(user: string, n: string, stepKey: string): Promise<{ id: string }> {
  return waitFor(`${stepKey} of ${n} in the inbox of ${user}`, async () => {
    const res = await m.call(user, 'GET', `/v1/tasks?processId=${encodeURIComponent(processIdOf(n))}`);
    return res.status === 200 ? (res.body.items as { id: string; stepKey: string }[]).find((t) => t.stepKey === stepKey) : undefined;
  }, 30_000);
}

function expectOutageAnswer(what: string, res: Answer): void {
  const seen = `${what}: ${res.status} in ${res.ms} ms ${JSON.stringify(res.body)}`;
  expect(res.status, seen).toBe(503);
  expect(res.type, seen).toContain('application/problem+json');
  // Readiness is for load balancers, not clients to retry: only API answers carry Retry-After.
  if (what !== 'GET /readyz') expect(res.retryAfter, seen).toMatch(/^\d+$/);
  expect(res.ms, seen).toBeLessThan(MAX_OUTAGE_ANSWER_MS);
}

/**
 * Four onboardings wait for the client's approval, one is approved; a fifth starts and a
 * second approval is on its way when the line is cut. Business keys carry `tag`.
 */
async function outage(mode: Exclude<ProxyMode, 'forward'>, tag: string): Promise<void> {
  const before = ['1', '2', '3', '4'].map((i) => `${tag}${i}`);
  const [first, second, third] = before as [string, string, string, string];
  const [cutMidStep, refusedStart] = [`${tag}5`, `${tag}6`];
  for (const n of before) expect((await m.call('u-hr-lea', 'POST', '/v1/contracts/ctr-martin-2027/processes', onboardingOf(n))).status).toBe(201);
  const approvals = new Map<string, string>();
  for (const n of before) approvals.set(n, (await openTaskOf('u-dsi-paul', n, 'iam.grant-privileged')).id);
  expect((await m.call('u-dsi-paul', 'POST', `/v1/tasks/${approvals.get(first)}/complete`, { decision: 'approve' })).status).toBe(200);

  // The cut comes while one process creates its account and an approval is on its way.
  expect((await m.call('u-hr-lea', 'POST', '/v1/contracts/ctr-martin-2027/processes', onboardingOf(cutMidStep))).status).toBe(201);
  const inFlight = m.call('u-dsi-paul', 'POST', `/v1/tasks/${approvals.get(second)}/complete`, { decision: 'approve' });
  await sleep(20);
  proxy.setMode(mode);
  proxy.killConnections();
  const cutAt = Date.now();

  // Meanwhile: reads, completions, starts and readiness all say 503, within seconds.
  const answered: number[] = [];
  while (Date.now() - cutAt < OUTAGE_MS - MAX_OUTAGE_ANSWER_MS) {
    const [inbox, completion, start, ready] = await Promise.all([
      m.call('u-dsi-paul', 'GET', '/v1/tasks'),
      m.call('u-dsi-paul', 'POST', `/v1/tasks/${approvals.get(third)}/complete`, { decision: 'approve' }),
      m.call('u-hr-lea', 'POST', '/v1/contracts/ctr-martin-2027/processes', onboardingOf(refusedStart)),
      m.call(undefined, 'GET', '/readyz'),
    ]);
    expectOutageAnswer('GET /v1/tasks', inbox);
    expectOutageAnswer('POST /v1/tasks/{id}/complete', completion);
    expectOutageAnswer('POST /v1/contracts/{id}/processes', start);
    expectOutageAnswer('GET /readyz', ready);
    for (const res of [inbox, completion, start]) expect(res.body).toMatchObject({ type: '/problems/service-unavailable', status: 503, dependency: 'database' });
    expect(ready.body).toMatchObject({ type: '/problems/not-ready' });
    expect(ready.body.down).toContain('database');
    answered.push(inbox.ms, completion.ms, start.ms);
    await sleep(1_000);
  }
  const delivered = await inFlight;
  expect([200, 202, 503], JSON.stringify(delivered.body)).toContain(delivered.status);
  await sleep(Math.max(0, cutAt + OUTAGE_MS - Date.now()));

  // Back: readiness, then the API, then the process cut mid-step, then every process.
  proxy.setMode('forward');
  const backAt = Date.now();
  await waitFor('/readyz to be ready', async () => (await m.call(undefined, 'GET', '/readyz')).status === 200, 60_000);
  const readyAfterMs = Date.now() - backAt;
  const restarted = await waitFor('the start refused during the outage to be accepted', async () => {
    const res = await m.call('u-hr-lea', 'POST', '/v1/contracts/ctr-martin-2027/processes', onboardingOf(refusedStart));
    return res.status === 503 ? undefined : res;
  }, 60_000);
  expect(restarted.status).toBe(201);
  const apiAfterMs = Date.now() - backAt;
  await waitFor('the process cut mid-step to move on', async () => {
    const res = await m.call('u-hr-lea', 'GET', `/v1/processes/${encodeURIComponent(processIdOf(cutMidStep))}`);
    const journal = (res.body.journal ?? []) as { event: string; stepKey: string }[];
    return res.body.status !== 'running' || journal.some((e) => e.event === 'step.executed' && e.stepKey === 'iam.create-accounts');
  }, 120_000);
  const resumedAfterMs = Date.now() - backAt;
  const all = [...before, cutMidStep, refusedStart];
  const ended = await driveToEnd(m, all, 180_000);
  const endedAfterMs = Date.now() - backAt;
  answered.sort((a, b) => a - b);
  console.log(`[outage] PostgreSQL ${mode} for ${OUTAGE_MS} ms: ${answered.length} API answers during it, all 503 in ${answered[0]}-${answered.at(-1)} ms (median ${answered[Math.floor(answered.length / 2)]}); after it: ready in ${readyAfterMs} ms, a start accepted in ${apiAfterMs} ms, the process cut mid-step moved on in ${resumedAfterMs} ms, all ${all.length} ended in ${endedAfterMs} ms: ${JSON.stringify(ended)}`);

  // Whatever happened: each journal intact, each task completed at most once, each effect at most once.
  const directory = await readDirectory(m.directoryFile);
  for (const n of all) {
    const id = processIdOf(n);
    const journal = await m.call('u-hr-lea', 'GET', `/v1/processes/${encodeURIComponent(id)}/journal`);
    expect(journal.body.verification, n).toEqual({ ok: true, length: (journal.body.entries as unknown[]).length });
    expect(await verifyJournal(database.db, id)).toMatchObject({ ok: true });
    const entries = journal.body.entries as { event: string; data: { taskId?: string } }[];
    const tasks = await database.db.selectFrom('tasks').select(['id', 'step_key', 'status']).where('process_id', '=', id).execute();
    expect(new Set(tasks.map((t) => t.step_key)).size, `${n}: one task per step`).toBe(tasks.length);
    for (const t of tasks) expect(entries.filter((e) => e.data?.taskId === t.id && /^task\.(approved|rejected|completed)$/.test(e.event)).length, `${n} ${t.step_key}`).toBe(t.status === 'done' ? 1 : 0);
    expect(Object.keys(directory.effects).filter((k) => k.startsWith(`${id}:`)).sort(), n).toEqual(
      ['iam.create-accounts', 'iam.grant-privileged'].filter((step) => entries.some((e) => e.event === 'step.executed' && (e as { stepKey?: string }).stepKey === step)).map((step) => `${id}:${step}`),
    );
  }

  // Nothing lost: every process completed with every step, each task done once.
  const notCompleted: string[] = [];
  for (const n of all) {
    if (ended[n] === 'completed') continue;
    const res = await m.call('u-hr-lea', 'GET', `/v1/processes/${encodeURIComponent(processIdOf(n))}`);
    const failed = (res.body.journal as { event: string; stepKey: string | null; data: unknown }[] | undefined)?.filter((e) => /failed/.test(e.event)).map((e) => ({ event: e.event, stepKey: e.stepKey, data: e.data }));
    notCompleted.push(`${n}: ${ended[n] ?? 'still running'} ${JSON.stringify(failed)}`);
  }
  expect(notCompleted).toEqual([]);
  for (const n of all) {
    const id = processIdOf(n);
    const journal = await m.call('u-hr-lea', 'GET', `/v1/processes/${encodeURIComponent(id)}/journal`);
    const executed = (journal.body.entries as { event: string; stepKey: string; partyId: string; actor: string }[]).filter((e) => e.event === 'step.executed' || e.event.startsWith('task.')).map((e) => [e.stepKey, e.partyId, e.actor]);
    expect(executed, n).toEqual(EXECUTED);
    const tasks = await database.db.selectFrom('tasks').select(['step_key', 'status']).where('process_id', '=', id).execute();
    expect(tasks.map((t) => [t.step_key, t.status]).sort(), n).toEqual([['equipment.ship-laptop', 'done'], ['iam.grant-privileged', 'done'], ['onboarding.confirm', 'done']]);
    expect(directory.accounts[usernameOf(n)]?.groups, n).toEqual(['erp-admins']);
  }
}

describe(`PostgreSQL unreachable for ${OUTAGE_MS / 1000} s`, () => {
  // Silent: new connections are accepted and never answered, so each attempt waits out the
  // pool's 5 s connect timeout.
  it.runIf(MODES.includes('blackhole'))('when the line goes silent mid-run, then the API answers 503 within seconds meanwhile and every process completes once it is back, nothing lost or done twice', async () => {
    await outage('blackhole', 'b');
  }, OUTAGE_MS + 420_000);

  // Refused: every attempt fails at once. KERNEL BUG (fails on this branch's base and on main
  // at 0a43545, writes in regular activities): an engine step whose activity runs during the
  // outage fails its process. runEngineAction (activities/engine.ts) first writes the carried
  // step record to PostgreSQL, which fails at once, and the engine proxy's retry policy
  // (workflows/step.ts: maximumAttempts 5, 1 s doubling) gives up after ~15 s: the step is
  // journaled `step.failed` "connect ECONNRESET …" and the onboarding `process.failed`, though
  // the action never ran. (Silent, above, passes only because each attempt waits out the 5 s
  // connect timeout, so 5 attempts span ~35 s.) Kept honest, not `.fails`: it passes once a
  // database failure no longer counts as an attempt of the action.
  it.runIf(MODES.includes('refuse'))('when connections are refused mid-run, then the API answers 503 at once meanwhile and every process completes once it is back, nothing lost or done twice', async () => {
    await outage('refuse', 'r');
  }, OUTAGE_MS + 420_000);
});
