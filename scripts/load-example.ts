// Loads a contract file (YAML or JSON) with its parties and users, activates it, and
// issues one API key per user, so a newcomer has something to drive at once.
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Kysely } from 'kysely';
import { parse as parseYaml } from 'yaml';
import type { Schema } from '../db/schema';
import { createContractFromDocument, setContractStatus } from '../db/contracts';
import { issueApiKey } from '../db/api-keys';
import { parseContract, type Contract } from '../domain/contract';
import { SERVICES } from '../domain/catalogue';
import { validateRunbook } from '../domain/runbook';
import { registerRunbook } from '../db/runbooks';

export interface ExampleKey {
  userId: string;
  partyId: string;
  roles: string[];
  key: string;
}

export async function readContractFile(file: string): Promise<Contract> {
  const text = await readFile(file, 'utf8');
  const parsed = parseContract(file.endsWith('.json') ? JSON.parse(text) : parseYaml(text));
  if (!parsed.ok) {
    throw new Error(`${file} is not a valid contract:\n${parsed.issues.map((i) => `  ${i.pointer}: ${i.message}`).join('\n')}`);
  }
  return parsed.contract;
}

/**
 * The bootstrap: writes parties, users and agents, then the contract, signed and active at once.
 * Whoever runs it holds the database, so nothing is signed through the contract-proposal process
 * here: it is the installer's act, for a first deployment or a demo. Every contract after it
 * goes through the API, where a signatory of each party signs (docs/ARCHITECTURE.md "Contract signing").
 */
export async function loadContract(db: Kysely<Schema>, contract: Contract): Promise<{ created: boolean }> {
  const provider = contract.parties.find((p) => p.kind === 'provider');
  const client = contract.parties.find((p) => p.kind === 'client');
  if (!provider || !client) throw new Error(`contract ${contract.id} needs a provider and a client`);
  const { created } = await createContractFromDocument(db, contract, { providerId: provider.id, clientId: client.id });
  if (created) await setContractStatus(db, contract.id, 'active');
  return { created };
}

/** Registers every runbook of the examples folder (YAML), as the contract's provider. */
export async function registerExampleRunbooks(db: Kysely<Schema>, dir: string, contract: Contract): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const provider = contract.parties.find((p) => p.kind === 'provider');
  const registered: string[] = [];
  for (const name of (await readdir(dir)).filter((f) => f.endsWith('.yaml')).sort()) {
    const checked = validateRunbook(parseYaml(await readFile(path.join(dir, name), 'utf8')), Object.keys(SERVICES));
    if (!checked.ok) throw new Error(`${name} is not a valid runbook:\n${checked.faults.map((f) => `  ${f.pointer}: ${f.message}`).join('\n')}`);
    await registerRunbook(db, { runbook: checked.runbook, createdBy: null, createdByParty: provider?.id ?? '' });
    registered.push(checked.runbook.key);
  }
  return registered;
}

export async function issueExampleKeys(db: Kysely<Schema>, contract: Contract): Promise<ExampleKey[]> {
  const keys: ExampleKey[] = [];
  for (const party of contract.parties) {
    for (const user of party.users) {
      const { key } = await issueApiKey(db, { partyId: party.id, userId: user.id, roles: user.roles });
      keys.push({ userId: user.id, partyId: party.id, roles: user.roles, key });
    }
  }
  return keys;
}

export async function writeKeysFile(file: string, keys: ExampleKey[]): Promise<void> {
  await writeFile(file, JSON.stringify(keys, null, 2) + '\n', { mode: 0o600 });
}
