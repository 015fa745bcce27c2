// A real Mandate (API, engine worker, outbox) on the run's Temporal server and a fresh
// PostgreSQL database, with one API key per kind of principal the API tests authorize.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadConfig, type AppConfig } from '../../config/app-config';
import { issueApiKey, revokeApiKey } from '../../db/api-keys';
import { upsertUser } from '../../db/parties';
import { startMandate, type Mandate } from '../../scripts/mandate';
import { newCodecKeySpec } from '../../temporal/codec';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { installQuietRuntime, taskQueueFor } from '../support/temporal';
import { silentLog, testEngineConfig, waitFor } from '../support/harness';

export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON answers of many shapes

export interface ApiWorld {
  mandate: Mandate;
  /** The deployment's configuration (its codec keys; its signing key is in MANDATE_DATA_DIR/signing-keys). */
  config: AppConfig;
  database: TestDatabase;
  /** Principal name → clear key. */
  keys: Map<string, string>;
  call(who: string | undefined, method: string, url: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; type: string; body: Json }>;
  stop(): Promise<void>;
}

/** The example contract as a plain document (the request body of POST /v1/contracts). */
export async function exampleDocument(): Promise<Json> {
  return parseYaml(await readFile('examples/contract.yaml', 'utf8')) as Json;
}

/** Another client's contract with the same provider: the example with its client and vendor renamed. */
export async function otherClientDocument(): Promise<Json> {
  const text = (await readFile('examples/contract.yaml', 'utf8'))
    .replaceAll('u-hr-lea', 'u-f-lea')
    .replaceAll('u-dsi-paul', 'u-f-paul')
    .replaceAll('u-dsi-anne', 'u-f-anne')
    .replaceAll('u-sam', 'u-f-sam')
    .replaceAll('pc-logistique', 'pc-fournil')
    .replaceAll('martin', 'fournil');
  return parseYaml(text) as Json;
}

/**
 * Principals: `provider-op` (u-marc), `provider-admin` (u-claire: operator + approver),
 * `client-op` (u-hr-lea), `client-approver` (u-dsi-paul), `client-approver-2` (u-dsi-anne),
 * `client-viewer`, `vendor` (u-sam, the client's vendor), `client-agent` (agent key),
 * `revoked` (a revoked client key), `other-client` (operator of another client, another contract).
 */
export async function startApiWorld(testFile: string): Promise<ApiWorld> {
  installQuietRuntime();
  const database = await createTestDatabase({ maxConnections: 20 });
  const engine = await testEngineConfig();
  const config = loadConfig({
    DATABASE_URL: database.url,
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    PORT: '0',
    MANDATE_DATA_DIR: await mkdtemp(path.join(tmpdir(), 'mandate-api-')),
    MANDATE_TASK_QUEUE: taskQueueFor(testFile),
    MANDATE_ENGINE_CONFIG: engine.file,
    MANDATE_CODEC_KEYS: newCodecKeySpec('api'),
    LOG_LEVEL: 'silent',
  });
  const mandate = await startMandate({ config, log: silentLog, workflowBundlePath: inject('workflowBundlePath') });
  const byUser = new Map(mandate.exampleKeys.map((k) => [k.userId, k.key]));
  const keys = new Map<string, string>();
  const alias = { 'provider-op': 'u-marc', 'provider-admin': 'u-claire', 'client-op': 'u-hr-lea', 'client-approver': 'u-dsi-paul', 'client-approver-2': 'u-dsi-anne', vendor: 'u-sam', subcontractor: 'u-dc-ops' };
  for (const [name, userId] of Object.entries(alias)) keys.set(name, byUser.get(userId) ?? '');
  const db = mandate.database.db;
  await upsertUser(db, { id: 'u-martin-viewer', partyId: 'martin', roles: ['viewer'] });
  keys.set('client-viewer', (await issueApiKey(db, { partyId: 'martin', userId: 'u-martin-viewer', roles: ['viewer'] })).key);
  keys.set('client-agent', (await issueApiKey(db, { partyId: 'martin', agentId: 'ag-martin-hq', roles: ['agent'] })).key);
  const revoked = await issueApiKey(db, { partyId: 'martin', userId: 'u-hr-lea', roles: ['operator'] });
  await revokeApiKey(db, revoked.id);
  keys.set('revoked', revoked.key);

  const call: ApiWorld['call'] = async (who, method, url, body, headers = {}) => {
    const key = who === undefined ? undefined : keys.get(who);
    if (who !== undefined && !key) throw new Error(`no key for ${who}`);
    const res = await fetch(`${mandate.apiUrl}${url}`, {
      method,
      headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, type: res.headers.get('content-type') ?? '', body: text ? (JSON.parse(text) as Json) : {} };
  };

  // The other client's contract, created and activated through the API by the provider.
  const created = await call('provider-op', 'POST', '/v1/contracts', { document: await otherClientDocument() });
  if (created.status !== 201) throw new Error(`other contract: ${JSON.stringify(created.body)}`);
  const activated = await call('provider-op', 'POST', '/v1/contracts/ctr-fournil-2027/activate');
  if (activated.status !== 200) throw new Error(`activate: ${JSON.stringify(activated.body)}`);
  keys.set('other-client', (await issueApiKey(db, { partyId: 'fournil', userId: 'u-f-lea', roles: ['operator'] })).key);

  return {
    mandate,
    config,
    database,
    keys,
    call,
    async stop() {
      await mandate.stop();
      await database.drop();
    },
  };
}

export function onboarding(businessKey: string, opts: { laptop?: boolean; privileged?: boolean } = {}) {
  return {
    type: 'employee-onboarding',
    businessKey,
    input: {
      // One directory account per business key: the engine action refuses a second one.
      employee: { firstName: 'Ada', lastName: `Lovelace ${businessKey}`, email: `${businessKey}@martin.example`, department: 'R&D', startDate: '2027-03-01' },
      privilegedGroups: opts.privileged === false ? [] : ['erp-admins'],
      ...(opts.laptop === false ? {} : { laptop: { model: 'T14', shipTo: 'Lyon HQ' } }),
    },
  };
}

export const enc = encodeURIComponent;

/** Waits for an open task of `stepKey` of the process in the inbox of `who`. */
export function openTaskOf(world: ApiWorld, who: string, processId: string, stepKey: string): Promise<Json> {
  return waitFor(`${stepKey} in the inbox of ${who}`, async () => {
    const res = await world.call(who, 'GET', `/v1/tasks?processId=${enc(processId)}`);
    return (res.body.items as Json[] | undefined)?.find((t) => t.stepKey === stepKey);
  });
}

/** Field paths of a problem+json answer. */
export const paths = (body: Json) => ((body.errors ?? []) as { path: string }[]).map((e) => e.path);
