// The runbook interpreter on the real dev server, with real engine actions and PostgreSQL:
// the shipped examples on their normal path, then each failure path (retry then success,
// continue, compensate in reverse order, stop).
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { parseEngineConfig } from '../../config/engine-config';
import { readJournal } from '../../db/journal';
import { getProcess, registerProcess } from '../../db/processes';
import { SERVICES } from '../../domain/catalogue';
import { validateRunbook, type Runbook } from '../../domain/runbook';
import type { ProcessStart } from '../../workflows/definitions';
import type { RunbookResult } from '../../workflows/runbook';
import { aContract, CLIENT, PROVIDER } from '../support/builders';
import type { TestDatabase } from '../support/db';
import { startEngineWorld, type EngineWorld } from '../support/engine-world';



const examples = path.resolve('examples');
const engineRow = (action: string) => ({ R: { party: PROVIDER, by: 'engine' as const, action }, A: PROVIDER });
const contract = aContract()
  .with((c) => { c.id = 'ctr-runbooks'; })
  .withService('mco')
  .withAsset({ id: 'srv-web-01', host: PROVIDER })
  .withRow('service.restart', engineRow('restart-service'))
  .withRow('service.health-check', engineRow('service-health'))
  .withRow('cert.inspect', engineRow('cert-inspect'))
  .withRow('cert.issue', engineRow('cert-issue'))
  .withRow('cert.deploy', engineRow('cert-deploy'))
  .withRow('cert.redeploy', engineRow('cert-deploy'))
  .withRow('cert.verify', engineRow('cert-verify'))
  .withRow('t.one', engineRow('record'))
  .withRow('t.two', engineRow('record'))
  .withRow('t.three', engineRow('record'))
  .withRow('t.undo-one', engineRow('record'))
  .withRow('t.undo-two', engineRow('record'))
  .withRow('t.flaky', engineRow('flaky'))
  .withRow('t.fail', engineRow('fail'))
  .build();

// Records each call in calls.log; `flaky` fails (exit 69, not retried by the engine) its first N calls.
const TEST_ACTION = `
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
const [mode, , name, , failTimes] = process.argv.slice(2);
const dir = process.env.TEST_DIR;
appendFileSync(dir + '/calls.log', name + '\\n');
if (mode === 'fail') { process.stderr.write(name + ' broke'); process.exit(69); }
if (mode === 'flaky') {
  const file = dir + '/flaky-' + name + '.json';
  let n = 0; try { n = JSON.parse(readFileSync(file, 'utf8')); } catch {}
  writeFileSync(file, JSON.stringify(n + 1));
  if (n < Number(failTimes ?? 0)) { process.stderr.write('not yet'); process.exit(69); }
  console.log(JSON.stringify({ attempt: n + 1 }));
} else console.log(JSON.stringify({ did: name }));
`;

let dir: string;
let world: EngineWorld;
let database: TestDatabase;
let client: Client;
let taskQueue: string;

async function engineConfig() {
  const script = path.join(dir, 'test-action.mjs');
  await writeFile(script, TEST_ACTION);
  const runbooks = path.join(examples, 'actions', 'runbooks.mjs');
  const str = (pattern = '^[a-z0-9][a-z0-9.-]{0,252}$') => `{ type: string, pattern: '${pattern}' }`;
  const program = (cmd: string, params: [string, string, string][]) => `
    program: node
    args: [${JSON.stringify(runbooks)}, ${cmd}, ${params.map(([p, f]) => `{ param: ${p}, flag: ${f} }`).join(', ')}]
    params: { ${params.map(([p, , s]) => `${p}: ${s}`).join(', ')} }
    env: { MANDATE_RUNBOOK_DIR: ${JSON.stringify(dir)} }`;
  const test = (mode: string) => `
    program: node
    args: [${JSON.stringify(script)}, ${mode}, { param: name, flag: --name }, { param: failTimes, flag: --fail-times }]
    params: { name: ${str()}, failTimes: { type: integer, required: false } }
    env: { TEST_DIR: ${JSON.stringify(dir)} }`;
  const text = `
actions:
  restart-service: ${program('restart-service', [['host', '--host', str()], ['service', '--service', str()]])}
  service-health: ${program('service-health', [['host', '--host', str()], ['service', '--service', str()], ['pid', '--pid', '{ type: integer, required: false }']])}
  cert-inspect: ${program('cert-inspect', [['host', '--host', str()], ['domain', '--domain', str()]])}
  cert-issue: ${program('cert-issue', [['domain', '--domain', str()]])}
  cert-deploy: ${program('cert-deploy', [['host', '--host', str()], ['domain', '--domain', str()], ['certificate', '--certificate', str()]])}
  cert-verify: ${program('cert-verify', [['host', '--host', str()], ['domain', '--domain', str()], ['certificate', '--certificate', str()]])}
  record: ${test('record')}
  flaky: ${test('flaky')}
  fail: ${test('fail')}
`;
  return parseEngineConfig(text, path.join(dir, 'engine.yaml'));
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mandate-runbooks-'));
  world = await startEngineWorld({ testFile: import.meta.url, contract, engineConfig: await engineConfig() });
  ({ database, client, taskQueue } = world);
});

afterAll(() => world?.stop());

function checked(raw: unknown): Runbook {
  const v = validateRunbook(raw, Object.keys(SERVICES));
  if (!v.ok) throw new Error(JSON.stringify(v.faults));
  return v.runbook;
}

async function example(name: string): Promise<Runbook> {
  return checked(parseYaml(await readFile(path.join(examples, 'runbooks', `${name}.yaml`), 'utf8')));
}

let counter = 0;
/** Registers and starts a run the way the API does, with the definition pinned in the start. */
async function startRunbook(runbook: Runbook, input: Record<string, unknown> = {}) {
  const businessKey = `rb-${Date.now().toString(36)}-${++counter}`;
  const id = `mandate:${contract.id}:runbook:${businessKey}`;
  await registerProcess(database.db, { id, contractId: contract.id, contractVersion: 1, processType: 'runbook', businessKey, requestedBy: 'u-op', requestedByParty: PROVIDER });
  const start: ProcessStart = { contractId: contract.id, version: 1, processType: 'runbook', businessKey, requestedBy: { userId: 'u-op', partyId: PROVIDER }, input: { runbook: runbook.key, version: 1, input, definition: runbook } };
  return client.workflow.start('runbookInterpreter', { workflowId: id, taskQueue, args: [start] });
}

/** A test runbook: steps of the record/flaky/fail actions, each named by its id. */
function testRunbook(steps: Record<string, unknown>[]): Runbook {
  return checked({ key: 'test', title: 'Test', service: 'mco', steps: steps.map((s) => ({ params: { name: s.id }, ...s })) });
}

async function calls(): Promise<string[]> {
  return (await readFile(path.join(dir, 'calls.log'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
}

async function failureOf(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  return (err as WorkflowFailedError).cause?.message ?? '';
}

describe('runbookInterpreter', () => {
  it('when the restart-service example runs, then the restart and the health check run through runStep and are journaled', async () => {
    const handle = await startRunbook(await example('restart-service'), { host: 'srv-web-01', service: 'nginx' });
    const result = (await handle.result()) as RunbookResult;
    expect(result.steps.restart).toMatchObject({ outcome: 'done', attempts: 1, output: { restarted: true, pid: expect.any(Number) } });
    expect(result.steps.health).toMatchObject({ outcome: 'done', output: { healthy: true, pid: (result.steps.restart?.output as { pid: number }).pid } });
    const journal = await readJournal(database.db, handle.workflowId);
    expect(journal.filter((e) => e.event === 'step.executed').map((e) => [e.step_key, e.actor])).toEqual([
      ['service.restart', 'engine:restart-service'],
      ['service.health-check', 'engine:service-health'],
    ]);
    expect((await getProcess(database.db, handle.workflowId))?.status).toBe('completed');
  });

  it('when the rotate-certificate example runs, then the new certificate is deployed and verified', async () => {
    const handle = await startRunbook(await example('rotate-certificate'), { host: 'srv-web-01', domain: 'shop.martin.example' });
    const result = (await handle.result()) as RunbookResult;
    expect(Object.values(result.steps).map((s) => s.outcome)).toEqual(['done', 'done', 'done', 'done']);
    expect(result.steps.verify?.output).toMatchObject({ verified: true, served: (result.steps.issue?.output as { certificate: string }).certificate });
  });

  it('when a step fails then succeeds within its retries, then it waits its backoff and the run completes', async () => {
    const handle = await startRunbook(testRunbook([{ id: 'flaky', activityKey: 't.flaky', params: { name: `flaky-${counter}`, failTimes: 2 }, onFailure: { retry: { max: 3, backoff: 'PT1S' } } }]));
    const result = (await handle.result()) as RunbookResult;
    expect(result.steps.flaky).toMatchObject({ outcome: 'done', attempts: 3, output: { attempt: 3 } });
    const journal = await readJournal(database.db, handle.workflowId);
    expect(journal.filter((e) => e.event === 'runbook.retry').map((e) => (e.data as { delayMs: number }).delayMs)).toEqual([1000, 2000]);
    const history = await handle.fetchHistory();
    expect(history.events?.filter((e) => e.timerStartedEventAttributes).length).toBe(2);
  });

  it('when a failing step says continue, then later conditions see its outcome and the run completes', async () => {
    const handle = await startRunbook(testRunbook([
      { id: 'broken', activityKey: 't.fail', onFailure: 'continue' },
      { id: 'skipped', activityKey: 't.one', when: { '==': [{ var: 'steps.broken.outcome' }, 'done'] } },
      { id: 'recover', activityKey: 't.two', when: { '==': [{ var: 'steps.broken.outcome' }, 'failed'] }, params: { name: { cat: ['after-', { var: 'steps.broken.outcome' }] } } },
    ]));
    const result = (await handle.result()) as RunbookResult;
    expect(result.steps).toMatchObject({ broken: { outcome: 'failed', reason: expect.stringMatching(/broken/) }, skipped: { outcome: 'skipped', attempts: 0 }, recover: { outcome: 'done', output: { did: 'after-failed' } } });
    const events = (await readJournal(database.db, handle.workflowId)).map((e) => e.event);
    expect(events).toEqual(expect.arrayContaining(['runbook.step-failed-continued', 'runbook.step-skipped', 'process.completed']));
  });

  it('when a step fails with compensate, then the compensations of the steps done run in reverse order and the run fails', async () => {
    const before = (await calls()).length;
    const handle = await startRunbook(testRunbook([
      { id: 'first', activityKey: 't.one', compensation: { activityKey: 't.undo-one', params: { name: 'undo-first' } } },
      { id: 'second', activityKey: 't.two', compensation: { activityKey: 't.undo-two', params: { name: { cat: ['undo-', { var: 'steps.second.output.did' }] } } } },
      { id: 'third', activityKey: 't.fail', onFailure: 'compensate' },
      { id: 'never', activityKey: 't.three' },
    ]));
    expect(await failureOf(handle.result())).toMatch(/step third \(t\.fail\) failed: .*compensated: second, first/);
    expect((await calls()).slice(before)).toEqual(['first', 'second', 'third', 'undo-second', 'undo-first']);
    const journal = await readJournal(database.db, handle.workflowId);
    expect(journal.filter((e) => e.event === 'step.executed').map((e) => e.step_key)).toEqual(['t.one', 't.two', 't.undo-two', 't.undo-one']);
    expect(journal.at(-1)?.event).toBe('process.failed');
    expect((await getProcess(database.db, handle.workflowId))?.status).toBe('failed');
  });

  it('when a step fails with stop, then the run fails with the step and its reason and nothing after it runs', async () => {
    const before = (await calls()).length;
    const handle = await startRunbook(testRunbook([
      { id: 'halt', activityKey: 't.fail' },
      { id: 'after', activityKey: 't.one' },
    ]));
    expect(await failureOf(handle.result())).toMatch(/^step halt \(t\.fail\) failed: .*halt broke/);
    expect((await calls()).slice(before)).toEqual(['halt']);
    const ended = (await readJournal(database.db, handle.workflowId)).at(-1);
    expect(ended).toMatchObject({ event: 'process.failed', data: { reason: expect.stringMatching(/step halt/) } });
  });

  it('when retries run out, then the retry policy\'s final answer applies', async () => {
    const handle = await startRunbook(testRunbook([
      { id: 'never-ready', activityKey: 't.flaky', params: { name: `never-${counter}`, failTimes: 99 }, onFailure: { retry: { max: 1, backoff: 'PT1S', then: 'continue' } } },
      { id: 'next', activityKey: 't.one' },
    ]));
    const result = (await handle.result()) as RunbookResult;
    expect(result.steps['never-ready']).toMatchObject({ outcome: 'failed', attempts: 2 });
    expect(result.steps.next?.outcome).toBe('done');
  });

  it('when a start carries no definition and the runbook is not registered, then the run fails at once and says why', async () => {
    const businessKey = `rb-missing-${++counter}`;
    const id = `mandate:${contract.id}:runbook:${businessKey}`;
    await registerProcess(database.db, { id, contractId: contract.id, contractVersion: 1, processType: 'runbook', businessKey, requestedBy: 'u-op', requestedByParty: CLIENT });
    const handle = await client.workflow.start('runbookInterpreter', { workflowId: id, taskQueue, args: [{ contractId: contract.id, version: 1, processType: 'runbook', businessKey, requestedBy: { userId: 'u-op', partyId: CLIENT }, input: { runbook: 'restart-service' } }] });
    expect(await failureOf(handle.result())).toMatch(/runbook restart-service is not registered/);
  });
});
