// A run started by a contract's schedule registers itself: its business key comes from
// its scheduled time, so a day runs once however often the schedule fires.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getProcess } from '../../db/processes';
import { readJournal } from '../../db/journal';
import type { ProcessStart } from '../../workflows/definitions';
import { aContract, CLIENT, PROVIDER } from '../support/builders';
import type { TestDatabase } from '../support/db';
import { startEngineWorld, type EngineWorld } from '../support/engine-world';
import type { TestClient } from '../support/temporal';
import type { ProbeStep } from '../support/test-workflows';

const contract = aContract()
  .with((c) => { c.id = 'ctr-scheduled'; })
  .withRow('iam.create', { R: { party: PROVIDER, by: 'engine', action: 'create-directory-account' }, A: PROVIDER, I: [CLIENT] })
  .build();

let world: EngineWorld;
let database: TestDatabase;
let temporal: TestClient;
let taskQueue: string;

beforeAll(async () => {
  world = await startEngineWorld({ testFile: import.meta.url, contract });
  ({ database, temporal, taskQueue } = world);
});

afterAll(() => world?.stop());

const scheduledStart = (): ProcessStart<{ steps: ProbeStep[] }> => ({
  contractId: contract.id,
  version: 1,
  processType: 'step-probe',
  businessKey: '',
  requestedBy: { userId: 'schedule:nightly', partyId: PROVIDER },
  input: { steps: [{ key: 'iam.create', params: { username: 'sched.user', displayName: 'Scheduled', department: 'Ops' } }] },
  schedule: { id: 'mandate:ctr-scheduled:nightly', name: 'nightly', timezone: 'Europe/Paris', keyBy: 'day' },
});

describe('scheduled runs', () => {
  it('when a schedule fires twice on one day, then the first run registers and works, the second does nothing', async () => {
    const first = await temporal.client.workflow.start('stepProbe', { workflowId: `mandate:${contract.id}:step-probe:scheduled-a`, taskQueue, args: [scheduledStart()] });
    await first.result();
    const row = await getProcess(database.db, first.workflowId);
    expect(row?.business_key).toMatch(/^nightly\.\d{4}-\d{2}-\d{2}$/);
    expect(row?.status).toBe('completed');
    expect(row?.requested_by).toBe('schedule:nightly');

    const second = await temporal.client.workflow.start('stepProbe', { workflowId: `mandate:${contract.id}:step-probe:scheduled-b`, taskQueue, args: [scheduledStart()] });
    expect(await second.result()).toEqual({ skipped: true });
    expect(await getProcess(database.db, second.workflowId)).toBeUndefined();
    expect(await readJournal(database.db, second.workflowId)).toEqual([]);
  });
});
