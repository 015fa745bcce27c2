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

/**
 * Another client's contract with the same provider: the example with its client and vendor
 * renamed. Its new client has no signatory: a document never grants one (its admins do).
 */
export async function otherClientDocument(): Promise<Json> {
  const text = (await readFile('examples/contract.yaml', 'utf8'))
    .replace(/^.*u-dg-henri.*\n/m, '')
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
 * `provider-signatory` (u-nadia), `client-signatory` (u-dg-henri),
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
  const alias = { 'provider-op': 'u-marc', 'provider-admin': 'u-claire', 'client-op': 'u-hr-lea', 'client-approver': 'u-dsi-paul', 'client-approver-2': 'u-dsi-anne', vendor: 'u-sam', subcontractor: 'u-dc-ops', 'provider-signatory': 'u-nadia', 'client-signatory': 'u-dg-henri' };
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

  // The other client's contract, proposed by the provider and signed by both through the API;
  // its signatory is the one its own admins would have named (written here directly).
  const created = await call('provider-op', 'POST', '/v1/contracts', { document: await otherClientDocument() });
  if (created.status !== 201) throw new Error(`other contract: ${JSON.stringify(created.body)}`);
  await upsertUser(db, { id: 'u-f-henri', partyId: 'fournil', roles: ['signatory'] });
  keys.set('other-signatory', (await issueApiKey(db, { partyId: 'fournil', userId: 'u-f-henri', roles: ['signatory'] })).key);
  keys.set('other-client', (await issueApiKey(db, { partyId: 'fournil', userId: 'u-f-lea', roles: ['operator'] })).key);
  const world: Pick<ApiWorld, 'call'> = { call };
  await signProposal(world, created.body.proposal.processId as string, { provider: 'provider-signatory', client: 'other-signatory', transition: true });
  await waitFor('ctr-fournil-2027 active', async () => (await call('provider-op', 'GET', '/v1/contracts/ctr-fournil-2027')).body.status === 'active' || undefined);

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

/** Completes the open `sign` task of a step, as `who`: approve signs, reject declines. */
export async function signStep(world: Pick<ApiWorld, 'call'>, who: string, processId: string, stepKey: string, decision: 'approve' | 'reject' = 'approve', payload?: Json): Promise<{ status: number; body: Json }> {
  const task = await waitFor(`${stepKey} in the inbox of ${who}`, async () => {
    const res = await world.call(who, 'GET', `/v1/tasks?processId=${enc(processId)}`);
    return (res.body.items as Json[] | undefined)?.find((t) => t.stepKey === stepKey && t.status === 'open');
  }, 60_000);
  return world.call(who, 'POST', `/v1/tasks/${enc(task.id as string)}/complete`, { decision, ...(payload ? { payload } : {}) });
}

/** Both signatures of a proposal (and the client's transition sign-off of a new contract). */
export async function signProposal(world: Pick<ApiWorld, 'call'>, processId: string, who: { provider: string; client: string; transition?: boolean }): Promise<void> {
  const steps: [string, string][] = [
    [who.provider, 'contract.sign-provider'],
    [who.client, 'contract.sign-client'],
    ...(who.transition ? ([[who.client, 'contract.transition-signoff']] as [string, string][]) : []),
  ];
  for (const [signer, stepKey] of steps) {
    const res = await signStep(world, signer, processId, stepKey);
    if (res.status !== 200 && res.status !== 202) throw new Error(`${stepKey} by ${signer}: ${res.status} ${JSON.stringify(res.body)}`);
  }
}
