// A contract schedule starts a runbook by name only: the run pins the version in force
// when it starts and registers itself under the scheduled business key.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEngineConfig } from '../../config/engine-config';
import { readJournal } from '../../db/journal';
import { getProcess } from '../../db/processes';
import { registerExampleRunbooks } from '../../scripts/load-example';
import type { ProcessStart } from '../../workflows/definitions';
import type { RunbookResult } from '../../workflows/runbook';
import { aContract, PROVIDER } from '../support/builders';
import { startEngineWorld, type EngineWorld } from '../support/engine-world';

const contract = aContract()
  .with((c) => { c.id = 'ctr-runbook-schedule'; })
  .withService('mco')
  .withRow('logs.measure', { R: { party: PROVIDER, by: 'engine', action: 'logs-measure' }, A: PROVIDER })
  .withRow('logs.purge', { R: { party: PROVIDER, by: 'engine', action: 'logs-purge' }, A: PROVIDER })
  .build();

let world: EngineWorld;

beforeAll(async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'mandate-runbook-'));
  const script = path.resolve('examples/actions/runbooks.mjs');
  const action = (command: string) => `
  ${command}:
    program: node
    args: [${JSON.stringify(script)}, ${command}, { param: host, flag: --host }, { param: olderThanDays, flag: --older-than-days }]
    params:
      host: { type: string, pattern: '^[a-z0-9][a-z0-9-]{0,63}$' }
      olderThanDays: { type: integer, minimum: 1, maximum: 3650 }
    env: { MANDATE_RUNBOOK_DIR: ${JSON.stringify(dir)} }
    timeout: PT1M`;
  const text = `actions:${action('logs-measure')}${action('logs-purge')}\n`;
  await writeFile(path.join(dir, 'engine.yaml'), text);
  world = await startEngineWorld({ testFile: import.meta.url, contract, engineConfig: parseEngineConfig(text, path.join(dir, 'engine.yaml')) });
  await registerExampleRunbooks(world.db, path.resolve('examples/runbooks'), contract);
});

afterAll(() => world?.stop());

describe('a runbook on a schedule', () => {
  it('when a schedule starts a runbook by name, then the run pins the latest version and runs it', async () => {
    const start: ProcessStart = {
      contractId: contract.id,
      version: 1,
      processType: 'runbook',
      businessKey: '',
      requestedBy: { userId: 'schedule:purge-old-logs', partyId: PROVIDER },
      input: { runbook: 'purge-old-logs' },
      schedule: { id: `mandate:${contract.id}:purge-old-logs`, name: 'purge-old-logs', timezone: 'Europe/Paris', keyBy: 'day' },
    };
    const handle = await world.client.workflow.start('runbookInterpreter', { workflowId: `mandate:${contract.id}:runbook:scheduled-1`, taskQueue: world.taskQueue, args: [start] });
    const result = (await handle.result()) as RunbookResult;
    expect(result).toMatchObject({ runbook: 'purge-old-logs', version: 1 });
    expect(result.steps.measure?.outcome).toBe('done');
    expect((await getProcess(world.db, handle.workflowId))?.business_key).toMatch(/^purge-old-logs\.\d{4}-\d{2}-\d{2}$/);
    const events = (await readJournal(world.db, handle.workflowId)).map((e) => `${e.event}:${e.step_key ?? ''}`);
    expect(events).toContain('step.executed:logs.measure');
  });
});
