// Shared set-up for tests that run processes on the real Temporal server: a fresh
// database, an engine configuration whose actions write to a temp directory, a contract.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import type { Kysely } from 'kysely';
import { pino } from 'pino';
import { parseEngineConfig, type EngineConfig } from '../../config/engine-config';
import type { Schema } from '../../db/schema';
import { registerProcess } from '../../db/processes';
import type { Contract } from '../../domain/contract';
import { loadContract } from '../../scripts/load-example';
import type { ProcessStart } from '../../workflows/definitions';
import type { ProbeClock, ProbeStep } from './test-workflows';

export const silentLog = pino({ level: process.env.MANDATE_TEST_LOG_LEVEL?.toLowerCase() === 'debug' ? 'debug' : 'silent' });

const examplesDir = fileURLToPath(new URL('../../examples/', import.meta.url));

/** The example's directory actions (create-directory-account, grant-group) as engine.yaml lines. */
export function directoryActions(directoryFile: string): string {
  const script = path.join(examplesDir, 'actions', 'directory.mjs');
  return `  create-directory-account:
    program: node
    args: [${JSON.stringify(script)}, create-account, { param: username, flag: --username }, { param: displayName, flag: --display-name }, { param: department, flag: --department }, { param: email, flag: --email }]
    params:
      username: { type: string, pattern: '^[a-z][a-z0-9.-]{1,63}$' }
      displayName: { type: string, maxLength: 256 }
      department: { type: string, maxLength: 128 }
      email: { type: string, pattern: '^[^\\s@]{1,64}@[^\\s@]{1,255}$', required: false }
    env: { MANDATE_DIRECTORY_FILE: ${JSON.stringify(directoryFile)} }
    timeout: PT30S
  grant-group:
    program: node
    args: [${JSON.stringify(script)}, grant-group, { param: username, flag: --username }, { param: groups, flag: --group }]
    params:
      username: { type: string, pattern: '^[a-z][a-z0-9.-]{1,63}$' }
      groups: { type: 'string[]', pattern: '^[a-z][a-z0-9-]{1,63}$' }
    env: { MANDATE_DIRECTORY_FILE: ${JSON.stringify(directoryFile)} }
    timeout: PT30S
`;
}

/** The example `verify-backup` action (YAML lines under `actions:`), reading backups under `backupStore/<party>/`. */
export function verifyBackupAction(backupStore: string): string {
  const verifyScript = path.join(examplesDir, 'actions', 'verify-backup.mjs');
  return `  verify-backup:
    program: node
    args: [${JSON.stringify(verifyScript)}, { param: party, flag: --party }, { param: asset, flag: --asset }, { param: backupId, flag: --backup-id }, { param: location, flag: --location }, { param: checksum, flag: --checksum }]
    params:
      party: { type: string, pattern: '^[a-z0-9][a-z0-9-]{0,63}$' }
      asset: { type: string, pattern: '^[a-z0-9][a-z0-9-]{0,63}$' }
      backupId: { type: string, maxLength: 200 }
      location: { type: string, pattern: '^[A-Za-z0-9][A-Za-z0-9._/-]{0,1023}$', maxLength: 1024 }
      checksum: { type: string, pattern: '^(sha256:)?[a-fA-F0-9]{64}$' }
    env: { MANDATE_BACKUP_STORE: ${JSON.stringify(backupStore)} }
    timeout: PT30S
`;
}

/**
 * The example actions, writing their directory file into a fresh temp dir; `verify-backup`
 * reads backups under `backupStore/<party>/` (where a fake agent writes them).
 */
export async function testEngineConfig(): Promise<{ config: EngineConfig; dir: string; file: string; directoryFile: string; backupStore: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mandate-engine-'));
  const directoryFile = path.join(dir, 'directory.json');
  const backupStore = path.join(dir, 'backups');
  const file = path.join(dir, 'engine.yaml');
  const text = `
actions:
${directoryActions(directoryFile)}${verifyBackupAction(backupStore)}`;
  await writeFile(file, text);
  return { config: parseEngineConfig(text, file), dir, file, directoryFile, backupStore };
}

export async function seedContract(db: Kysely<Schema>, contract: Contract): Promise<void> {
  await loadContract(db, contract);
}

let counter = 0;
/** Registers and starts a step probe the way the API starts a process. */
export async function startProbe(
  client: Client,
  db: Kysely<Schema>,
  opts: { taskQueue: string; contractId: string; steps: ProbeStep[]; requestedBy: { userId: string; partyId: string }; businessKey?: string; clock?: ProbeClock },
) {
  const businessKey = opts.businessKey ?? `probe-${Date.now().toString(36)}-${++counter}`;
  const id = `mandate:${opts.contractId}:step-probe:${businessKey}`;
  await registerProcess(db, {
    id,
    contractId: opts.contractId,
    contractVersion: 1,
    processType: 'step-probe',
    businessKey,
    requestedBy: opts.requestedBy.userId,
    requestedByParty: opts.requestedBy.partyId,
  });
  const start: ProcessStart<{ steps: ProbeStep[]; clock?: ProbeClock }> = {
    contractId: opts.contractId,
    version: 1,
    processType: 'step-probe',
    businessKey,
    requestedBy: opts.requestedBy,
    input: { steps: opts.steps, ...(opts.clock ? { clock: opts.clock } : {}) },
  };
  return client.workflow.start('stepProbe', { workflowId: id, taskQueue: opts.taskQueue, args: [start] });
}

/** Polls until `probe` returns a value; fails with `what` after the timeout. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
