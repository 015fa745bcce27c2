import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addContractVersion, getContract, getContractVersion, listContractsForParty, setContractStatus } from '../../db/contracts';
import { getProcess, listProcesses, recordProcessState, registerProcess, type RegisterProcessInput } from '../../db/processes';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { seedContract, seedParties } from './seed';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  await seedParties(t.db);
  await seedContract(t.db);
});
afterAll(async () => {
  await t.drop();
});

const patchCycle = (businessKey: string): RegisterProcessInput => ({
  id: `mandate:c-globex:patch-cycle:${businessKey}`,
  contractId: 'c-globex',
  contractVersion: 1,
  processType: 'patch-cycle',
  businessKey,
  requestedBy: 'alice',
  requestedByParty: 'acme-it',
});

describe('contracts', () => {
  it('when a contract is created, then it is a draft at version 1 shared by its parties', async () => {
    const contract = await getContract(t.db, 'c-globex');
    expect(contract).toMatchObject({ status: 'draft', current_version: 1, currency: 'EUR', party_ids: ['acme-it', 'dc-north', 'globex'] });
    expect((await listContractsForParty(t.db, 'dc-north')).map((c) => c.id)).toEqual(['c-globex']);
    expect(await listContractsForParty(t.db, 'nobody')).toEqual([]);
  });

  it('when an amendment is added, then it is the next version and version 1 is unchanged', async () => {
    const v2 = await addContractVersion(t.db, { contractId: 'c-globex', document: { services: ['mco', 'support'] } });
    expect(v2?.version).toBe(2);
    expect((await getContract(t.db, 'c-globex'))?.current_version).toBe(2);
    expect((await getContractVersion(t.db, 'c-globex', 1))?.document).toEqual({ services: ['mco'], raci: [] });
  });

  it('when the status moves from an unexpected status, then nothing changes', async () => {
    expect(await setContractStatus(t.db, 'c-globex', 'active', { from: ['transition'] })).toBeUndefined();
    expect((await setContractStatus(t.db, 'c-globex', 'transition', { from: ['draft'] }))?.status).toBe('transition');
  });
});

describe('registerProcess', () => {
  it('when ten registrations of one business key race, then one row exists and all get its id', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, () => registerProcess(t.db, patchCycle('2025-02'))));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.process.id))).toEqual(new Set(['mandate:c-globex:patch-cycle:2025-02']));
    expect(await listProcesses(t.db, { contractId: 'c-globex', processType: 'patch-cycle' })).toHaveLength(1);
  });

  it('when a process ends, then a late "running" update does not revive it', async () => {
    const { process } = await registerProcess(t.db, patchCycle('2025-03'));
    await recordProcessState(t.db, process.id, { currentStep: 'apply' });
    const ended = await recordProcessState(t.db, process.id, { status: 'completed' });
    expect(ended?.ended_at).toBeInstanceOf(Date);
    expect(await recordProcessState(t.db, process.id, { status: 'running' })).toBeUndefined();
    expect(await getProcess(t.db, process.id)).toMatchObject({ status: 'completed', current_step: 'apply' });
  });

  it('when processes are listed for a party, then only those of its contracts come back', async () => {
    expect((await listProcesses(t.db, { partyId: 'globex' })).length).toBeGreaterThan(0);
    expect(await listProcesses(t.db, { partyId: 'nobody' })).toEqual([]);
    expect((await listProcesses(t.db, { status: ['completed'] })).map((p) => p.business_key)).toEqual(['2025-03']);
  });
});
