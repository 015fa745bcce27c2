// Monitoring alerts through HTTP: a signed alert opens an incident, repeats are added to
// the open one, a closed one gives way to `<alertKey>#2`, a bad signature is 401.
import { createHmac } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProcessActivities } from '../../activities/processes';
import { createApp } from '../../api/app';
import { issueApiKey } from '../../db/api-keys';
import { readJournal } from '../../db/journal';
import { listProcesses } from '../../db/processes';
import { readContractFile } from '../../scripts/load-example';
import { incidentStateQuery } from '../../workflows/definitions';
import type { TestDatabase } from '../support/db';
import { startEngineWorld, type EngineWorld } from '../support/engine-world';
import type { TestClient } from '../support/temporal';
import { silentLog, waitFor } from '../support/harness';

const CONTRACT = 'ctr-martin-2027';
const SECRET = 'monitoring-secret-of-martin-0123456789';

let world: EngineWorld;
let database: TestDatabase;
let temporal: TestClient;
let taskQueue: string;
let server: Server;
let base: string;
const keys = new Map<string, string>();

beforeAll(async () => {
  const contract = await readContractFile('examples/contract.yaml');
  world = await startEngineWorld({ testFile: import.meta.url, contract, engineConfig: { actions: {}, configDir: '.' }, activities: createProcessActivities });
  ({ database, temporal, taskQueue } = world);
  keys.set('provider-agent', (await issueApiKey(database.db, { partyId: 'nuvola', agentId: 'ag-nuvola-soc', roles: ['agent'] })).key);
  keys.set('client-agent', (await issueApiKey(database.db, { partyId: 'martin', agentId: 'ag-martin-hq', roles: ['agent'] })).key);
  const app = createApp({
    db: database.db,
    temporal: { client: temporal.client, taskQueue, close: async () => {} },
    log: silentLog,
    monitoringSecrets: (contractId) => (contractId === CONTRACT ? [SECRET] : []),
  });
  server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => server?.close(r));
  await world?.stop();
});

const sign = (body: string, secret = SECRET, t = Math.floor(Date.now() / 1000)) => `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;

async function post(body: unknown, auth: { signature?: string; key?: string; sign?: boolean } = { sign: true }, contractId = CONTRACT) {
  const text = JSON.stringify(body);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (auth.sign) headers['mandate-signature'] = sign(text);
  if (auth.signature) headers['mandate-signature'] = auth.signature;
  if (auth.key) headers.authorization = `Bearer ${keys.get(auth.key)}`;
  const res = await fetch(`${base}/v1/contracts/${contractId}/monitoring/alerts`, { method: 'POST', headers, body: text });
  const answer = await res.text();
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: answer ? (JSON.parse(answer) as Record<string, unknown>) : {} };
}

const alert = (alertKey: string, extra: Record<string, unknown> = {}) => ({ alertKey, title: `Alert ${alertKey}`, priority: 'P2', asset: 'srv-erp-01', ...extra });
const incidentsOf = async (alertKey: string) => (await listProcesses(database.db, { contractId: CONTRACT, processType: 'incident' })).filter((p) => p.business_key.startsWith(alertKey));

describe('monitoring alerts', () => {
  it('when a signed alert arrives, then an incident opens; when it repeats, then the open incident journals and counts it', async () => {
    const first = await post(alert('disk-full:srv-erp-01'));
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ id: `mandate:${CONTRACT}:incident:disk-full:srv-erp-01`, type: 'incident', status: 'running' });
    const again = await post(alert('disk-full:srv-erp-01', { title: 'Disk still full' }));
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    expect(await incidentsOf('disk-full:srv-erp-01')).toHaveLength(1);
    const handle = temporal.client.workflow.getHandle(String(first.body.id));
    await waitFor('two alerts counted', async () => ((await handle.query(incidentStateQuery)).alerts.count === 2 ? true : undefined));
    const repeated = await waitFor('the journaled repeat', async () => (await readJournal(database.db, handle.workflowId)).find((e) => e.event === 'incident.alert-repeated'));
    expect(repeated).toMatchObject({ actor: 'signature', data: { alertKey: 'disk-full:srv-erp-01', title: 'Disk still full', count: 2 } });
    await handle.cancel();
  });

  it('when the incident of an alert key has ended, then the next alert opens <alertKey>#2', async () => {
    const first = await post(alert('cpu:srv-web-01', { asset: 'srv-web-01' }));
    expect(first.status).toBe(201);
    const handle = temporal.client.workflow.getHandle(String(first.body.id));
    await handle.cancel();
    await waitFor('the cancelled incident', async () => ((await incidentsOf('cpu:srv-web-01'))[0]?.status === 'cancelled' ? true : undefined));
    // A new alert of the same key: its own id (the same signed body and second again would be a replay).
    const next = await post(alert('cpu:srv-web-01', { asset: 'srv-web-01', id: 'cpu-srv-web-01-2' }));
    expect(next.status).toBe(201);
    expect(next.body.id).toBe(`mandate:${CONTRACT}:incident:cpu:srv-web-01#2`);
    await temporal.client.workflow.getHandle(String(next.body.id)).cancel();
  });

  it("when the provider's monitoring agent sends it with its key, then it is accepted; another party's agent is 403", async () => {
    const byAgent = await post(alert('ping:shops-lan', { asset: 'shops-lan' }), { key: 'provider-agent' });
    expect(byAgent.status).toBe(201);
    expect(byAgent.body.requestedBy).toEqual({ userId: 'agent:ag-nuvola-soc', partyId: 'nuvola' });
    const byClient = await post(alert('ping:shops-lan'), { key: 'client-agent' });
    expect(byClient.status).toBe(403);
    await temporal.client.workflow.getHandle(String(byAgent.body.id)).cancel();
  });

  it('when the signature is wrong, stale, missing or for an unknown contract, then 401 problem and nothing opens', async () => {
    const body = alert('bad:srv-erp-02');
    const wrong = await post(body, { signature: sign(JSON.stringify(body), 'another-secret-0123456789abc') });
    expect(wrong.status).toBe(401);
    expect(wrong.type).toContain('application/problem+json');
    expect(wrong.body).toMatchObject({ type: '/problems/unauthorized', status: 401 });
    const stale = await post(body, { signature: sign(JSON.stringify(body), SECRET, Math.floor(Date.now() / 1000) - 3600) });
    expect(stale.status).toBe(401);
    expect((await post(body, { signature: 't=1' })).status).toBe(401);
    expect((await post(body, {})).status).toBe(401);
    expect((await post(body, { sign: true }, 'ctr-unknown')).status).toBe(401);
    expect(await incidentsOf('bad:srv-erp-02')).toHaveLength(0);
  });

  it('when a signed request goes to another route, then it still needs an API key', async () => {
    const res = await fetch(`${base}/v1/tasks`, { headers: { 'mandate-signature': sign('') } });
    expect(res.status).toBe(401);
  });

  it('when the alert is malformed, then 400 with the failing fields', async () => {
    const res = await post({ alertKey: 'has space', title: '' });
    expect(res.status).toBe(400);
  });
});
