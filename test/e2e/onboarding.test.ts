// Employee onboarding end to end through HTTP: the launcher's own composition (API,
// engine worker, outbox) on the run's Temporal server and a fresh PostgreSQL database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../config/app-config';
import { startMandate, type Mandate } from '../../scripts/mandate';
import { loadContract } from '../../scripts/load-example';
import { parseContract } from '../../domain/contract';
import { newCodecKeySpec } from '../../temporal/codec';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { connectTestClient, installQuietRuntime, taskQueueFor, type TestClient } from '../support/temporal';
import { silentLog, testEngineConfig, waitFor } from '../support/harness';

let database: TestDatabase;
let mandate: Mandate;
let temporal: TestClient;
let directoryFile: string;
const keys = new Map<string, string>();

beforeAll(async () => {
  installQuietRuntime();
  database = await createTestDatabase();
  const engine = await testEngineConfig();
  directoryFile = engine.directoryFile;
  const config = loadConfig({
    DATABASE_URL: database.url,
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    PORT: '0',
    MANDATE_DATA_DIR: await mkdtemp(path.join(tmpdir(), 'mandate-e2e-')),
    MANDATE_TASK_QUEUE: taskQueueFor(import.meta.url),
    MANDATE_ENGINE_CONFIG: engine.file,
    MANDATE_CODEC_KEYS: newCodecKeySpec('e2e'),
    LOG_LEVEL: 'silent',
  });
  mandate = await startMandate({ config, log: silentLog, workflowBundlePath: inject('workflowBundlePath') });
  for (const k of mandate.exampleKeys) keys.set(k.userId, k.key);
  temporal = await connectTestClient();
});

afterAll(async () => {
  await temporal?.close();
  await mandate?.stop();
  await database?.drop();
});

async function call(user: string | undefined, method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${mandate.apiUrl}${url}`, {
    method,
    headers: { ...(user ? { authorization: `Bearer ${keys.get(user)}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: text ? (JSON.parse(text) as Record<string, any>) : {} }; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON answers of many shapes
}

async function openTask(user: string, processId: string, stepKey: string) {
  const process = await call('u-hr-lea', 'GET', `/v1/processes/${encodeURIComponent(processId)}`);
  if (process.status !== 200 || process.body.status !== 'running') throw new Error(`process is not running: ${JSON.stringify(process.body)}`);
  return waitFor(`${stepKey} in the inbox of ${user}`, async () => {
    const res = await call(user, 'GET', `/v1/tasks?processId=${encodeURIComponent(processId)}`);
    return (res.body.items as { id: string; stepKey: string }[]).find((t) => t.stepKey === stepKey);
  });
}

const onboarding = {
  type: 'employee-onboarding',
  businessKey: 'emp-0042',
  input: {
    employee: { firstName: 'Léa', lastName: 'Dubois', email: 'lea.dubois@martin.example', department: 'Boulangerie Lyon 3', startDate: '2027-02-01' },
    privilegedGroups: ['erp-admins'],
    laptop: { model: 'ThinkPad T14', shipTo: 'Boulangeries Martin, 12 rue de la Paix, Lyon' },
  },
};

describe('employee onboarding through the API', () => {
  it('when HR starts it, each party completes only its own tasks, and the journal proves who did what', async () => {
    const started = await call('u-hr-lea', 'POST', '/v1/contracts/ctr-martin-2027/processes', onboarding);
    expect(started.status).toBe(201);
    const processId = started.body.id as string;
    expect(processId).toBe('mandate:ctr-martin-2027:employee-onboarding:emp-0042');

    const retried = await call('u-hr-lea', 'POST', '/v1/contracts/ctr-martin-2027/processes', onboarding);
    expect(retried.status).toBe(200);
    expect(retried.body.id).toBe(processId);

    // Privileged access: the client's approval, never by the requester.
    const approval = await openTask('u-dsi-paul', processId, 'iam.grant-privileged');
    const selfApproval = await call('u-hr-lea', 'POST', `/v1/tasks/${approval.id}/complete`, { decision: 'approve' });
    expect(selfApproval.status).toBe(422);
    expect(selfApproval.type).toContain('application/problem+json');
    expect((await call('u-claire', 'POST', `/v1/tasks/${approval.id}/complete`, { decision: 'approve' })).status).toBe(404);
    expect((await call('u-dsi-paul', 'POST', `/v1/tasks/${approval.id}/complete`, { decision: 'approve', comment: 'ERP admin for the Lyon shop' })).status).toBe(200);

    // The laptop: a task of the client's hardware vendor only.
    const shipment = await openTask('u-sam', processId, 'equipment.ship-laptop');
    const byProvider = await call('u-marc', 'POST', `/v1/tasks/${shipment.id}/complete`, { payload: { trackingNumber: 'TRK-1' } });
    expect(byProvider.status).toBe(404);
    expect((await call('u-sam', 'POST', `/v1/tasks/${shipment.id}/complete`, { payload: {} })).body.detail).toMatch(/trackingNumber/);
    expect((await call('u-sam', 'POST', `/v1/tasks/${shipment.id}/complete`, { payload: { trackingNumber: 'COLIS-8841' } })).status).toBe(200);
    const twice = await call('u-sam', 'POST', `/v1/tasks/${shipment.id}/complete`, { payload: { trackingNumber: 'COLIS-8841' } });
    expect(twice.status).toBe(409);

    const confirm = await openTask('u-marc', processId, 'onboarding.confirm');
    expect((await call('u-marc', 'POST', `/v1/tasks/${confirm.id}/complete`, {})).status).toBe(200);

    const finished = await waitFor('the process to complete', async () => {
      const res = await call('u-hr-lea', 'GET', `/v1/processes/${encodeURIComponent(processId)}`);
      return res.body.status === 'completed' ? res : undefined;
    });
    const executed = (finished.body.journal as { event: string; stepKey: string; partyId: string; actor: string }[])
      .filter((e) => e.event === 'step.executed' || e.event.startsWith('task.'))
      .map((e) => [e.stepKey, e.partyId, e.actor]);
    expect(executed).toEqual([
      ['hr.request-account', 'martin', 'user:u-hr-lea'],
      ['iam.create-accounts', 'nuvola', 'engine:create-directory-account'],
      ['iam.grant-privileged', 'martin', 'user:u-dsi-paul'],
      ['iam.grant-privileged', 'nuvola', 'engine:grant-group'],
      ['equipment.ship-laptop', 'pc-logistique', 'user:u-sam'],
      ['onboarding.confirm', 'nuvola', 'user:u-marc'],
    ]);
    const journal = await call('u-hr-lea', 'GET', `/v1/processes/${encodeURIComponent(processId)}/journal`);
    expect(journal.body.verification).toEqual({ ok: true, length: (journal.body.entries as unknown[]).length });

    const directory = JSON.parse(await readFile(directoryFile, 'utf8')) as { accounts: Record<string, { groups: string[] }> };
    expect(directory.accounts['lea.dubois']?.groups).toEqual(['erp-admins']);
  });

  it('when the vendor reads the process, then it sees only the steps it had a role in', async () => {
    const res = await call('u-sam', 'GET', `/v1/processes/${encodeURIComponent('mandate:ctr-martin-2027:employee-onboarding:emp-0042')}`);
    expect(res.status).toBe(200);
    const steps = new Set((res.body.journal as { stepKey: string | null }[]).map((e) => e.stepKey));
    expect([...steps]).toEqual(['equipment.ship-laptop']);
  });

  it('when the process runs, then Temporal lists it by search attributes and its payloads are encrypted', async () => {
    const id = 'mandate:ctr-martin-2027:employee-onboarding:emp-0042';
    const listed = await waitFor('the process in the visibility store', async () => {
      const found: string[] = [];
      for await (const wf of temporal.client.workflow.list({ query: `MandateContract = "ctr-martin-2027" AND MandateProcess = "employee-onboarding" AND MandateStatus = "completed"` })) found.push(wf.workflowId);
      return found.includes(id) ? found : undefined;
    });
    expect(listed).toContain(id);
    const history = await temporal.client.workflow.getHandle(id).fetchHistory();
    const input = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    expect(Buffer.from(input?.metadata?.encoding ?? []).toString()).toBe('binary/encrypted');
    expect(Buffer.from(input?.data ?? []).toString()).not.toContain('Dubois');
  });

  it('when a contract does not cover the process, then the start is refused with 422 and what is missing', async () => {
    const doc = parseYaml(await readFile('examples/contract.yaml', 'utf8')) as { id: string; services: string[] };
    doc.id = 'ctr-martin-lite';
    doc.services = doc.services.filter((s) => s !== 'bpo-hr');
    const parsed = parseContract(doc);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    await loadContract(mandate.database.db, parsed.contract);
    const res = await call('u-hr-lea', 'POST', '/v1/contracts/ctr-martin-lite/processes', onboarding);
    expect(res.status).toBe(422);
    expect(res.type).toContain('application/problem+json');
    expect(res.body).toMatchObject({ type: '/problems/not-covered', missingServices: ['bpo-hr'] });
    expect((await call('u-hr-lea', 'GET', '/v1/processes/mandate:ctr-martin-lite:employee-onboarding:emp-0042')).status).toBe(404);
  });

  it('when the input is wrong, then the error names each field', async () => {
    const bad = { ...onboarding, businessKey: 'emp-bad', input: { employee: { firstName: 'A' } } };
    const res = await call('u-hr-lea', 'POST', '/v1/contracts/ctr-martin-2027/processes', bad);
    expect(res.status).toBe(400);
    expect((res.body.errors as { path: string }[]).map((e) => e.path)).toEqual(expect.arrayContaining(['body.input.employee.lastName', 'body.input.employee.email']));
  });

  it('when there is no key or another party asks, then nothing leaks', async () => {
    expect((await call(undefined, 'GET', '/v1/tasks')).status).toBe(401);
    expect((await call('u-sam', 'POST', '/v1/contracts/ctr-martin-2027/processes', { ...onboarding, businessKey: 'emp-9' })).status).toBe(403);
    const unknown = await call('u-hr-lea', 'GET', '/v1/nope');
    expect(unknown.status).toBe(404);
    expect(unknown.type).toContain('application/problem+json');
  });
});
