// Backup runs and restore tests on the real dev server, with real PostgreSQL and the real
// engine action verify-backup; the party agents are faked the way the API serves them
// (test/support/fake-agent.ts) and openIncident is a recorder.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import { sql } from 'kysely';
import { createBackupActivities } from '../../activities/backups';
import type { OpenedIncident, OpenIncidentInput } from '../../activities/processes';
import { readJournal, verifyJournal } from '../../db/journal';
import { registerProcess } from '../../db/processes';
import type { ProcessStart } from '../../workflows/definitions';
import type { BackupResult } from '../../workflows/backup';
import type { RestoreTestResult } from '../../workflows/restore-test';
import { aContract, aParty, CLIENT, PROVIDER, SUBCONTRACTOR } from '../support/builders';
import type { TestDatabase } from '../support/db';
import { startEngineWorld, type EngineWorld } from '../support/engine-world';
import { FakeAgent, writeFakeBackup } from '../support/fake-agent';
import { testEngineConfig, waitFor } from '../support/harness';


const contract = aContract()
  .with((c) => {
    c.id = 'ctr-backups';
    c.parties = [
      aParty({ id: PROVIDER, kind: 'provider', contractedBy: undefined, users: [{ id: 'u-op', roles: ['operator'] }], agents: [{ id: 'ag-acme' }] }),
      aParty({ id: CLIENT, kind: 'client', contractedBy: undefined, users: [{ id: 'u-cab', roles: ['approver'] }] }),
      aParty({ id: SUBCONTRACTOR, contractedBy: PROVIDER, agents: [{ id: 'ag-dc' }] }),
    ];
    c.backupPolicy = [{ assets: ['srv-dc', 'srv-acme'], expectedBy: '03:00', retention: 'P30D', verify: 'checksum' }];
  })
  .withService('mco')
  .withAsset({ id: 'srv-dc', host: SUBCONTRACTOR, stateful: true })
  .withAsset({ id: 'srv-acme', host: PROVIDER, stateful: true })
  .withRow('backup.run', { where: { host: SUBCONTRACTOR }, R: { party: SUBCONTRACTOR, by: 'agent', action: 'backup-vm' }, A: PROVIDER })
  .withRow('backup.run', { where: { host: PROVIDER }, R: { party: PROVIDER, by: 'agent', action: 'backup-vm' }, A: PROVIDER })
  .withRow('backup.verify', { R: { party: PROVIDER, by: 'engine', action: 'verify-backup' }, A: PROVIDER })
  .withRow('backup.restore-test', { R: { party: PROVIDER, by: 'agent', action: 'restore-to-scratch' }, A: PROVIDER, I: [CLIENT] })
  .build();

const requestedBy = { userId: 'schedule:nightly-backup', partyId: PROVIDER };

let world: EngineWorld;
let database: TestDatabase;
let client: Client;
let taskQueue: string;
let backupStore: string;
let dcAgent: FakeAgent;
let acmeAgent: FakeAgent;
const incidents: OpenIncidentInput[] = [];

beforeAll(async () => {
  const engine = await testEngineConfig();
  backupStore = engine.backupStore;
  world = await startEngineWorld({
    testFile: import.meta.url,
    contract,
    engineConfig: engine.config,
    activities: ({ db }) => ({
      ...createBackupActivities({ db }),
      // Records the call the way activities/processes.ts would answer it (no incident workflow runs here).
      async openIncident(input: OpenIncidentInput): Promise<OpenedIncident> {
        const created = !incidents.some((i) => i.openedBy.processId === input.openedBy.processId && i.key === input.key);
        incidents.push(input);
        return { processId: `mandate:${input.contractId}:incident:${input.key}`, created, status: 'running' };
      },
    }),
  });
  ({ database, client, taskQueue } = world);
  dcAgent = new FakeAgent(database.db, client, SUBCONTRACTOR, 'ag-dc');
  acmeAgent = new FakeAgent(database.db, client, PROVIDER, 'ag-acme');
});

afterAll(() => world?.stop());

let counter = 0;
async function start(type: 'backup' | 'restore-test', input: Record<string, unknown>, businessKey = `t${++counter}-${Date.now().toString(36)}`) {
  const id = `mandate:${contract.id}:${type}:${businessKey}`;
  await registerProcess(database.db, { id, contractId: contract.id, contractVersion: 1, processType: type, businessKey, requestedBy: requestedBy.userId, requestedByParty: requestedBy.partyId });
  const start: ProcessStart = { contractId: contract.id, version: 1, processType: type, businessKey, requestedBy, input };
  return client.workflow.start(type === 'backup' ? 'backupRun' : 'restoreTest', { workflowId: id, taskQueue, args: [start] });
}

const events = async (processId: string) => (await readJournal(database.db, processId)).map((e) => e.event);
const incidentsOf = (processId: string) => incidents.filter((i) => i.openedBy.processId === processId);

describe('backup run', () => {
  it('when two assets are hosted by two parties, then each party\'s agent gets its own job and both backups are verified', async () => {
    const handle = await start('backup', { day: '2027-03-08' }, 'nightly-backup.2027-03-08');
    const [dcJob, acmeJob] = await Promise.all([
      dcAgent.handle(async (job) => ({ ok: true, output: await writeFakeBackup(backupStore, SUBCONTRACTOR, String(job.params.asset)) })),
      acmeAgent.handle(async (job) => ({ ok: true, output: await writeFakeBackup(backupStore, PROVIDER, String(job.params.asset)) })),
    ]);
    expect([dcJob.params, dcJob.action, dcJob.step_key]).toEqual([{ asset: 'srv-dc' }, 'backup-vm', 'backup.run']);
    expect(acmeJob.params).toEqual({ asset: 'srv-acme' });
    const result: BackupResult = await handle.result();
    expect(result.day).toBe('2027-03-08');
    expect(result.assets.map((a) => [a.asset, a.party, a.status, a.late])).toEqual([
      ['srv-dc', SUBCONTRACTOR, 'verified', false],
      ['srv-acme', PROVIDER, 'verified', false],
    ]);
    expect(incidentsOf(handle.workflowId)).toEqual([]);
    const journal = await readJournal(database.db, handle.workflowId);
    const verified = journal.filter((e) => e.event === 'backup.verified');
    expect(verified.map((e) => (e.data as { asset: string }).asset).sort()).toEqual(['srv-acme', 'srv-dc']);
    expect(journal.filter((e) => e.step_key === 'backup.run' && e.event === 'step.executed').map((e) => e.actor).sort()).toEqual(['agent:ag-acme', 'agent:ag-dc']);
    expect(await verifyJournal(database.db, handle.workflowId)).toEqual({ ok: true, length: journal.length });
  });

  it('when an agent reports a failed backup, then a P2 incident is opened for that asset and the other asset is still backed up', async () => {
    const handle = await start('backup', { day: '2027-03-09' });
    await Promise.all([
      dcAgent.handle(() => ({ ok: false, reason: 'disk full on the backup target' })),
      acmeAgent.handle(async (job) => ({ ok: true, output: await writeFakeBackup(backupStore, PROVIDER, String(job.params.asset)) })),
    ]);
    const result: BackupResult = await handle.result();
    expect(result.assets.map((a) => [a.asset, a.status])).toEqual([['srv-dc', 'failed'], ['srv-acme', 'verified']]);
    expect(result.assets[0]?.reason).toContain('disk full');
    expect(incidentsOf(handle.workflowId)).toEqual([
      expect.objectContaining({ contractId: contract.id, priority: 'P2', asset: 'srv-dc', key: 'srv-dc:2027-03-09', openedBy: { processId: handle.workflowId, requestedBy } }),
    ]);
    expect(await events(handle.workflowId)).toEqual(expect.arrayContaining(['backup.failed', 'incident.opened', 'backup.verified']));
  });

  it('when the stored backup does not match the agent\'s checksum, then the mismatch is journaled and opens an incident', async () => {
    const handle = await start('backup', { assets: ['srv-acme'], day: '2027-03-10' });
    await acmeAgent.handle(async (job) => {
      const written = await writeFakeBackup(backupStore, PROVIDER, String(job.params.asset));
      return { ok: true, output: { ...written, checksum: 'f'.repeat(64) } };
    });
    const result: BackupResult = await handle.result();
    expect(result.assets).toEqual([expect.objectContaining({ asset: 'srv-acme', status: 'mismatch', incident: expect.objectContaining({ key: 'srv-acme:2027-03-10' }) })]);
    const mismatch = (await readJournal(database.db, handle.workflowId)).find((e) => e.event === 'backup.checksum-mismatch');
    expect(mismatch?.data).toEqual(expect.objectContaining({ asset: 'srv-acme', expected: 'f'.repeat(64), actual: expect.stringMatching(/^[a-f0-9]{64}$/) }));
    expect(incidentsOf(handle.workflowId)).toHaveLength(1);
  });

  it('when a backup is not done by its watchdog time, then an incident is opened at that time and the late backup still completes', async () => {
    const handle = await start('backup', { assets: ['srv-dc'], day: '2027-03-11', watchdogAt: new Date(Date.now() + 3000).toISOString() });
    const job = await dcAgent.take();
    // The agent is slow: the watchdog fires first.
    await waitFor('the watchdog incident in the journal', async () => (await events(handle.workflowId)).includes('incident.opened'), 15_000);
    expect(await events(handle.workflowId)).toEqual(expect.arrayContaining(['backup.late', 'incident.opened']));
    expect(incidentsOf(handle.workflowId)).toHaveLength(1);
    await dcAgent.finish(job, { ok: true, output: await writeFakeBackup(backupStore, SUBCONTRACTOR, 'srv-dc') });
    const result: BackupResult = await handle.result();
    expect(result.assets).toEqual([expect.objectContaining({ asset: 'srv-dc', status: 'verified', late: true, incident: expect.objectContaining({ key: 'srv-dc:2027-03-11' }) })]);
    expect(incidentsOf(handle.workflowId)).toEqual([expect.objectContaining({ title: 'Backup of srv-dc not done by 03:00', asset: 'srv-dc', priority: 'P2' })]);
  });
});

describe('restore test', () => {
  it('when no backup is named, then the latest verified one is restored by the agent and the evidence is journaled and sent to the client', async () => {
    const handle = await start('restore-test', { asset: 'srv-acme' });
    // The latest verified srv-acme backup is the one of the failed-backup test (2027-03-09 ran after 2027-03-08).
    const latest = await database.db.selectFrom('journal').select('data').where('event', '=', 'backup.verified').where(sql<string>`data->>'asset'`, '=', 'srv-acme').orderBy('at', 'desc').executeTakeFirstOrThrow();
    const backup = latest.data as { backupId: string; checksum: string };
    const job = await acmeAgent.handle((j) => ({ ok: true, output: { backupId: String(j.params.backupId), target: 'scratch-srv-acme', checksum: backup.checksum, verified: true } }));
    expect(job.params).toEqual({ asset: 'srv-acme', backupId: backup.backupId });
    const result: RestoreTestResult = await handle.result();
    expect(result).toEqual(expect.objectContaining({ asset: 'srv-acme', outcome: 'passed' }));
    expect(result.evidence).toEqual(expect.objectContaining({ backupId: backup.backupId, selectedBy: 'latest-verified', restoredBy: 'agent:ag-acme', result: 'passed', target: 'scratch-srv-acme' }));
    const evidence = (await readJournal(database.db, handle.workflowId)).find((e) => e.event === 'restore-test.evidence');
    expect(evidence).toEqual(expect.objectContaining({ actor: 'agent:ag-acme', party_id: PROVIDER, data: expect.objectContaining({ backupId: backup.backupId, result: 'passed', startedAt: expect.any(String), endedAt: expect.any(String) }) }));
    const told = await database.db.selectFrom('outbox').selectAll().where('event', '=', 'restore-test.evidence').execute();
    expect(told.map((o) => [o.party_id, (o.payload as { backupId: string }).backupId])).toEqual([[CLIENT, backup.backupId]]);
    expect(incidentsOf(handle.workflowId)).toEqual([]);
  });

  it('when the agent\'s check of the restored data fails, then the restore test fails and opens an incident', async () => {
    const handle = await start('restore-test', { asset: 'srv-dc', backupId: 'bkp-given' });
    await acmeAgent.handle(() => ({ ok: true, output: { backupId: 'bkp-given', verified: false, details: 'database does not start' } }));
    const result: RestoreTestResult = await handle.result();
    expect(result).toEqual(expect.objectContaining({ outcome: 'failed', evidence: expect.objectContaining({ selectedBy: 'input', result: 'failed', reason: 'database does not start' }) }));
    expect(incidentsOf(handle.workflowId)).toEqual([expect.objectContaining({ asset: 'srv-dc', priority: 'P2' })]);
  });
});
