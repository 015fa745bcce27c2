// Records the replay histories of test/replay/histories/ (`npm run record-histories`):
// runs representative processes to completion on a dev server of its own, with the real
// engine activities and a fresh database, and writes each history as JSON.
//
//   npm run record-histories                     record the scenarios that have no file yet
//   npm run record-histories -- <name>… --overwrite   re-record named ones (see README.md: only
//                                                together with a patched() or a new workflow type)
// Payloads are plain JSON (no codec in tests): only made-up people go in here.
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { Kysely } from 'kysely';
import { createEngineActivities } from '../../activities/engine';
import { createBackupActivities } from '../../activities/backups';
import { createProcessActivities } from '../../activities/processes';
import { proposeVersion } from '../../db/contracts';
import { inTransaction } from '../../db/transaction';
import { documentDigest } from '../../api/services/contracts';
import type { Principal } from '../../db/api-keys';
import { registerProcess } from '../../db/processes';
import type { Schema, TaskRow } from '../../db/schema';
import { listTasksForParty } from '../../db/tasks';
import { completeTask, type CompletionRequest } from '../../api/services/tasks';
import { SERVICES } from '../../domain/catalogue';
import type { Contract } from '../../domain/contract';
import { validateRunbook } from '../../domain/runbook';
import { startDevServer } from '../../scripts/dev-server';
import { loadContract, readContractFile } from '../../scripts/load-example';
import { findOrBuildTemporalCli } from '../../scripts/temporal-cli';
import type { ProcessStart } from '../../workflows/definitions';
import { SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import { createTestDatabase } from '../support/db';
import { FakeAgent, writeFakeBackup } from '../support/fake-agent';
import { silentLog, startProbe, testEngineConfig, waitFor } from '../support/harness';
import { reportEngineConfig, serveServerAgents } from '../support/patch-cycle';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../..');
export const historiesDir = path.join(here, 'histories');
const taskQueue = 'replay-recording';
const log = (line: string) => process.stderr.write(`[record] ${line}\n`);

interface Recording {
  db: Kysely<Schema>;
  client: Client;
  contract: Contract;
  /** Where the fake agents write backups and the engine action verify-backup reads them. */
  backupStore: string;
}

type Scenario = (r: Recording) => Promise<WorkflowHandle>;

// examples/contract.yaml: martin is the client, nuvola the provider, dc-lyon its
// subcontractor, pc-logistique the client's hardware vendor.
const hrLea = { userId: 'u-hr-lea', partyId: 'martin' };
const user = (partyId: string, userId: string, roles: string[], partyKind: Principal['partyKind']): Principal => ({ keyId: `k-${userId}`, partyId, partyKind, userId, roles });
const dsiPaul = user('martin', 'u-dsi-paul', ['approver'], 'client');
const dsiAnne = user('martin', 'u-dsi-anne', ['approver'], 'client');
const marc = user('nuvola', 'u-marc', ['operator'], 'provider');
const claire = user('nuvola', 'u-claire', ['operator', 'approver'], 'provider');
const dcOps = user('dc-lyon', 'u-dc-ops', ['operator'], 'third-party');
const sam = user('pc-logistique', 'u-sam', ['operator'], 'third-party');
const nadia = user('nuvola', 'u-nadia', ['signatory'], 'provider');
const henri = user('martin', 'u-dg-henri', ['signatory'], 'client');

/** Waits for the process's open task of that party and completes it as `who`. */
async function complete(r: Recording, handle: WorkflowHandle, who: Principal, request: CompletionRequest = {}): Promise<TaskRow> {
  const task = await waitFor(`an open task for ${who.partyId} in ${handle.workflowId}`, async () =>
    (await listTasksForParty(r.db, { partyId: who.partyId, processId: handle.workflowId, status: ['open'], limit: 5 })).tasks[0]);
  const done = await completeTask({ db: r.db, client: r.client, log: silentLog, updateWaitMs: 10_000 }, who, task.id, request);
  if (done.status !== 200) throw new Error(`completing ${task.kind} task ${task.id} answered ${done.status}`);
  return task;
}

/** Starts a backup or restore test the way a schedule or the API would (nuvola's schedule as requester). */
async function startMco(r: Recording, type: 'backup' | 'restore-test', businessKey: string, input: Record<string, unknown>): Promise<WorkflowHandle> {
  const id = `mandate:${r.contract.id}:${type}:${businessKey}`;
  const requestedBy = { userId: `schedule:${type}`, partyId: 'nuvola' };
  await registerProcess(r.db, { id, contractId: r.contract.id, contractVersion: 1, processType: type, businessKey, requestedBy: requestedBy.userId, requestedByParty: requestedBy.partyId });
  const start: ProcessStart = { contractId: r.contract.id, version: 1, processType: type, businessKey, requestedBy, input };
  return r.client.workflow.start(type === 'backup' ? 'backupRun' : 'restoreTest', { workflowId: id, taskQueue, args: [start] });
}

/** The party's fake agent backs up each job's asset (the way examples/actions/infra.mjs does). */
async function backUp(r: Recording, partyId: string, agentId: string, jobs: number): Promise<void> {
  const agent = new FakeAgent(r.db, r.client, partyId, agentId);
  for (let i = 0; i < jobs; i++) await agent.handle(async (job) => ({ ok: true, output: await writeFakeBackup(r.backupStore, partyId, String(job.params.asset)) }));
}

const SCENARIOS: Record<string, Scenario> = {
  // The nightly backup of the policy's three assets: two on dc-lyon's agent, one on nuvola's, each verified by the engine.
  backup: async (r) => {
    const handle = await startMco(r, 'backup', 'nightly-backup.2027-03-08', { day: '2027-03-08' });
    await Promise.all([backUp(r, 'dc-lyon', 'ag-dc-lyon', 2), backUp(r, 'nuvola', 'ag-nuvola-soc', 1)]);
    return handle;
  },
  // A restore test of the latest verified backup of srv-file-01 (backed up first), evidence to the client.
  'restore-test': async (r) => {
    const backup = await startMco(r, 'backup', 'restore-source', { assets: ['srv-file-01'], day: '2027-03-31' });
    await backUp(r, 'nuvola', 'ag-nuvola-soc', 1);
    await backup.result();
    const handle = await startMco(r, 'restore-test', 'restore-test.2027-04-05', { asset: 'srv-file-01' });
    await new FakeAgent(r.db, r.client, 'nuvola', 'ag-nuvola-soc').handle((job) => ({ ok: true, output: { backupId: String(job.params.backupId), target: 'scratch-srv-file-01', verified: true } }));
    return handle;
  },
  // The whole onboarding: requester's own step, engine action, approval, vendor task with a due timer, confirmation.
  'employee-onboarding': async (r) => {
    const businessKey = 'EMP-0001';
    const id = `mandate:${r.contract.id}:employee-onboarding:${businessKey}`;
    await registerProcess(r.db, { id, contractId: r.contract.id, contractVersion: 1, processType: 'employee-onboarding', businessKey, requestedBy: hrLea.userId, requestedByParty: hrLea.partyId });
    const start: ProcessStart = {
      contractId: r.contract.id,
      version: 1,
      processType: 'employee-onboarding',
      businessKey,
      requestedBy: hrLea,
      input: {
        employee: { firstName: 'Jeanne', lastName: 'Exemple', email: 'jeanne.exemple@example.com', department: 'Boulangerie Test', startDate: '2027-02-01', jobTitle: 'Testeuse' },
        privilegedGroups: ['erp-admins'],
        laptop: { model: 'Example Book 14', shipTo: '1 rue de l\'Exemple, 69000 Lyon' },
      },
    };
    const handle = await r.client.workflow.start('employeeOnboarding', { workflowId: id, taskQueue, args: [start] });
    await complete(r, handle, dsiPaul, { decision: 'approve', comment: 'ok' });
    await complete(r, handle, sam, { payload: { trackingNumber: 'TRK-EXAMPLE-1' } });
    await complete(r, handle, claire, { comment: 'ready' });
    return handle;
  },
  // An incident opened by the client: triage P2, dc-lyon consulted, n2 resolves, the client confirms.
  incident: async (r) => {
    const businessKey = 'INC-0001';
    const id = `mandate:${r.contract.id}:incident:${businessKey}`;
    await registerProcess(r.db, { id, contractId: r.contract.id, contractVersion: 1, processType: 'incident', businessKey, requestedBy: hrLea.userId, requestedByParty: hrLea.partyId });
    const start: ProcessStart = {
      contractId: r.contract.id,
      version: 1,
      processType: 'incident',
      businessKey,
      requestedBy: hrLea,
      input: { title: 'Example: the ERP answers slowly', description: 'Made-up incident', priority: 'P3', source: { kind: 'client' }, asset: 'srv-erp-01' },
    };
    const handle = await r.client.workflow.start('incident', { workflowId: id, taskQueue, args: [start] });
    await complete(r, handle, marc, { payload: { priority: 'P2' } });
    await complete(r, handle, dcOps, { comment: 'nothing on our side' });
    await complete(r, handle, marc, { payload: { resolution: 'Example: index rebuilt' } });
    await complete(r, handle, dsiPaul, { payload: { confirmed: true } });
    return handle;
  },
  'step-probe-engine': (r) =>
    startProbe(r.client, r.db, { taskQueue, contractId: r.contract.id, requestedBy: hrLea, businessKey: 'engine', steps: [
      { key: 'iam.create-accounts', params: { username: 'alex.exemple', displayName: 'Alex Exemple', department: 'Test' } },
    ] }),
  'step-probe-approved': async (r) => {
    const handle = await startProbe(r.client, r.db, { taskQueue, contractId: r.contract.id, requestedBy: hrLea, businessKey: 'approved', steps: [
      { key: 'iam.grant-privileged', params: { username: 'alex.exemple', groups: ['erp-admins'] } },
    ] });
    await complete(r, handle, dsiPaul, { decision: 'approve' });
    return handle;
  },
  'step-probe-rejected': async (r) => {
    const handle = await startProbe(r.client, r.db, { taskQueue, contractId: r.contract.id, requestedBy: hrLea, businessKey: 'rejected', steps: [
      { key: 'iam.grant-privileged', params: { username: 'alex.exemple', groups: ['erp-admins'] } },
    ] });
    await complete(r, handle, dsiAnne, { decision: 'reject', comment: 'not needed' });
    return handle;
  },
  // change.patch: C dc-lyon is consulted, A martin approves, R nuvola (a person) executes.
  'step-probe-consult-approve-person': async (r) => {
    const handle = await startProbe(r.client, r.db, { taskQueue, contractId: r.contract.id, requestedBy: hrLea, businessKey: 'consult', steps: [
      { key: 'change.patch', asset: 'srv-erp-01', requiredFields: ['ticket'] },
    ] });
    await complete(r, handle, dcOps, { comment: 'fine by us' });
    await complete(r, handle, dsiPaul, { decision: 'approve' });
    await complete(r, handle, marc, { payload: { ticket: 'CHG-EXAMPLE-1' } });
    return handle;
  },
};


/** The interpreter on a runbook pinned in its start: an engine step, a step skipped by its condition, a person step. */
SCENARIOS.runbook = async (r) => {
  const businessKey = 'RB-0001';
  const id = `mandate:${r.contract.id}:runbook:${businessKey}`;
  await registerProcess(r.db, { id, contractId: r.contract.id, contractVersion: 1, processType: 'runbook', businessKey, requestedBy: 'u-claire', requestedByParty: 'nuvola' });
  const checked = validateRunbook({
    key: 'service-account',
    title: 'Service account',
    service: 'bpo-hr',
    input: { username: { type: 'string' }, privileged: { type: 'boolean', required: false } },
    steps: [
      { id: 'create', activityKey: 'iam.create-accounts', params: { username: { var: 'input.username' }, displayName: { cat: ['Service ', { var: 'input.username' }] }, department: 'IT' } },
      { id: 'grant', activityKey: 'iam.grant-privileged', when: { var: 'input.privileged' }, params: { username: { var: 'input.username' }, groups: ['erp-admins'] } },
      { id: 'confirm', activityKey: 'onboarding.confirm', when: { '==': [{ var: 'steps.create.outcome' }, 'done'] }, onFailure: 'continue' },
    ],
  }, Object.keys(SERVICES));
  if (!checked.ok) throw new Error(JSON.stringify(checked.faults));
  const start: ProcessStart = { contractId: r.contract.id, version: 1, processType: 'runbook', businessKey, requestedBy: { userId: 'u-claire', partyId: 'nuvola' }, input: { runbook: 'service-account', version: 1, input: { username: 'svc.backup' }, definition: checked.runbook } };
  const handle = await r.client.workflow.start('runbookInterpreter', { workflowId: id, taskQueue, args: [start] });
  await complete(r, handle, marc, { comment: 'account checked' });
  return handle;
};

// A normal change on two servers (one per host party), batches of one: C dc-lyon is
// consulted, A martin approves, the cycle waits for its window, snapshots (each host's
// agent), patches, checks, then publishes the report. Agents are simulated.
SCENARIOS['patch-cycle-normal'] = async (r) => {
  const businessKey = 'CHG-EXAMPLE-1';
  const requestedBy = { userId: 'u-marc', partyId: 'nuvola' };
  const id = `mandate:${r.contract.id}:patch-cycle:${businessKey}`;
  await registerProcess(r.db, { id, contractId: r.contract.id, contractVersion: 1, processType: 'patch-cycle', businessKey, requestedBy: requestedBy.userId, requestedByParty: requestedBy.partyId });
  const opens = Date.now() + 8_000;
  const start: ProcessStart = {
    contractId: r.contract.id,
    version: 1,
    processType: 'patch-cycle',
    businessKey,
    requestedBy,
    input: {
      changeType: 'normal',
      assets: ['srv-erp-01', 'srv-web-01'],
      batchSize: 1,
      durations: { snapshot: 'PT1S', patch: 'PT1S', healthCheck: 'PT1S', restore: 'PT1S' },
      windowOverride: { start: new Date(opens).toISOString(), end: new Date(opens + 600_000).toISOString() },
      // The API lets only a provider operator's emergency change do this; the engine journals it (change.exception).
      exceptionReason: 'recording: a window that opens now',
    },
  };
  const agents = serveServerAgents(r.db, r.client, { nuvola: 'ag-nuvola-soc', 'dc-lyon': 'ag-dc-lyon' });
  try {
    const handle = await r.client.workflow.start('patchCycle', { workflowId: id, taskQueue, args: [start] });
    await complete(r, handle, dcOps, { comment: 'fine by us' });
    await complete(r, handle, dsiPaul, { decision: 'approve', comment: 'CAB ok' });
    await handle.result();
    return handle;
  } finally {
    await agents.stop();
  }
};

// An amendment proposed by the provider's operator, signed by the provider's signatory, then
// countersigned by the client's: the version is in force and the schedules follow once.
SCENARIOS['contract-amendment'] = async (r) => {
  const contractId = r.contract.id;
  const document = { ...r.contract, title: 'Example amendment' };
  const documentSha256 = documentDigest(document);
  const proposed = await inTransaction(r.db, (trx) => proposeVersion(trx, { contractId, document, documentSha256, createdBy: 'u-marc', partyIds: [] }));
  if (!proposed || !('version' in proposed)) throw new Error('the amendment was not proposed');
  const version = proposed.version.version;
  const businessKey = `v${version}`;
  const id = `mandate:${contractId}:contract-proposal:${businessKey}`;
  const requestedBy = { userId: 'u-marc', partyId: 'nuvola' };
  await registerProcess(r.db, { id, contractId, contractVersion: version, processType: 'contract-proposal', businessKey, requestedBy: requestedBy.userId, requestedByParty: requestedBy.partyId });
  const start: ProcessStart = { contractId, version, processType: 'contract-proposal', businessKey, requestedBy, input: { kind: 'amendment', documentSha256 } };
  const handle = await r.client.workflow.start('contractProposal', { workflowId: id, taskQueue, args: [start] });
  await complete(r, handle, nadia, { decision: 'approve', payload: { signature: 'example-signature' } });
  await complete(r, handle, henri, { decision: 'approve' });
  return handle;
};

function parseArgs(argv: string[]): { names: string[]; overwrite: boolean } {
  const overwrite = argv.includes('--overwrite');
  const names = argv.filter((a) => a !== '--overwrite');
  for (const name of names) if (!(name in SCENARIOS)) throw new Error(`unknown scenario "${name}": expected one of ${Object.keys(SCENARIOS).join(', ')}`);
  return { names, overwrite };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const wanted = args.names.length > 0 ? args.names : Object.keys(SCENARIOS);
  const existing = wanted.filter((name) => existsSync(path.join(historiesDir, `${name}.json`)));
  if (existing.length > 0 && !args.overwrite) {
    if (args.names.length > 0) throw new Error(`${existing.join(', ')} already recorded: re-record only with a patched() or new workflow type, with --overwrite (see test/replay/README.md)`);
    log(`kept (already recorded): ${existing.join(', ')}`);
  }
  const names = args.overwrite ? wanted : wanted.filter((name) => !existing.includes(name));
  if (names.length === 0) {
    log('nothing to record');
    return;
  }

  Runtime.install({ logger: new DefaultLogger('WARN') });
  const [cliPath, bundle] = await Promise.all([
    findOrBuildTemporalCli({ log }),
    bundleWorkflowCode({ workflowsPath: path.join(repoRoot, 'test', 'support', 'test-workflows.ts'), logger: new DefaultLogger('WARN') }),
  ]);
  const server = await startDevServer({ cliPath, uiPort: false, searchAttributes: SEARCH_ATTRIBUTES, log });
  const database = await createTestDatabase();
  let connection: Connection | undefined;
  let nativeConnection: NativeConnection | undefined;
  try {
    const contract = await readContractFile(path.join(repoRoot, 'examples', 'contract.yaml'));
    await loadContract(database.db, contract);
    const engine = await testEngineConfig();
    const reports = await reportEngineConfig();
    connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection, namespace: 'default' });
    nativeConnection = await NativeConnection.connect({ address: server.address });
    const worker = await Worker.create({
      connection: nativeConnection,
      taskQueue,
      workflowBundle: bundle,
      activities: {
        ...createEngineActivities({ db: database.db, actions: { ...engine.config.actions, ...reports.actions }, actionsDir: engine.config.configDir, log: silentLog }),
        ...createBackupActivities({ db: database.db }),
        ...createProcessActivities({ db: database.db, client, taskQueue }),
      },
    });
    const recording: Recording = { db: database.db, client, contract, backupStore: engine.backupStore };
    await mkdir(historiesDir, { recursive: true });
    await worker.runUntil(async () => {
      for (const name of names) {
        const handle = await SCENARIOS[name]!(recording);
        await handle.result();
        const history = await handle.fetchHistory();
        const file = path.join(historiesDir, `${name}.json`);
        await writeFile(file, JSON.stringify(JSON.parse(historyToJSON(history)), null, 2) + '\n');
        log(`${path.relative(repoRoot, file)}: ${history.events?.length ?? 0} events`);
      }
    });
  } finally {
    await nativeConnection?.close();
    await connection?.close();
    await database.drop();
    await server.stop();
  }
}

await main();
