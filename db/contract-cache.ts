// Contract versions are immutable: a parsed version is kept in memory, so a process start
// or a contract slice costs no query and no parse after the first one.
import type { Kysely } from 'kysely';
import { parseContract, type Contract } from '../domain/contract';
import { getContract, getContractVersion, type ContractWithParties } from './contracts';
import type { Schema } from './schema';

const MAX_ENTRIES = 500;
const parsed = new Map<string, Contract>();

/** The version's document, validated; undefined when the version does not exist. Throws when it does not parse. */
export async function getParsedContractVersion(db: Kysely<Schema>, contractId: string, version: number): Promise<Contract | undefined> {
  const key = `${contractId}@${version}`;
  const hit = parsed.get(key);
  if (hit) {
    // Least recently used goes first: re-insert on every hit.
    parsed.delete(key);
    parsed.set(key, hit);
    return hit;
  }
  const row = await getContractVersion(db, contractId, version);
  if (!row) return undefined;
  const result = parseContract(row.document);
  if (!result.ok) throw new Error(`contract ${contractId} v${version} is stored but does not parse: ${result.issues.map((i) => i.pointer).join(', ')}`);
  parsed.set(key, result.contract);
  if (parsed.size > MAX_ENTRIES) parsed.delete(parsed.keys().next().value as string);
  return result.contract;
}

/**
 * Contract rows as last read, per database: a hint, never an authority. A start checks the
 * request against the hint and inserts under a guard that re-reads the row in the same
 * statement (db/processes.ts registerProcessUnderContract), so a contract terminated or
 * amended on another node refuses at once; only the fast path's round trip is saved.
 */
const hints = new WeakMap<Kysely<Schema>, Map<string, ContractWithParties>>();

export function contractHint(db: Kysely<Schema>, contractId: string): ContractWithParties | undefined {
  return hints.get(db)?.get(contractId);
}

/** Reads the contract now (the authority) and keeps it as the next hint. */
export async function readContract(db: Kysely<Schema>, contractId: string): Promise<ContractWithParties | undefined> {
  const row = await getContract(db, contractId);
  let map = hints.get(db);
  if (!map) hints.set(db, (map = new Map()));
  if (!row) {
    map.delete(contractId);
    return undefined;
  }
  map.delete(contractId);
  map.set(contractId, row);
  if (map.size > MAX_ENTRIES) map.delete(map.keys().next().value as string);
  return row;
}
