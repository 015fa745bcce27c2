// The evidence journal: append-only, hash-chained per process, keyed (processId, seq).
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { jsonb } from './json';
import { inTransaction } from './transaction';
import type { JournalRow, Schema } from './schema';

export const GENESIS_HASH = '0'.repeat(64);

/** JSON with object keys sorted and no whitespace: the same value always gives the same text. */
export function canonicalJson(value: unknown): string {
  const text = canonical(value);
  if (text === undefined) throw new TypeError('canonicalJson: value is not representable as JSON');
  return text;
}

function canonical(value: unknown): string | undefined {
  if (value !== null && typeof value === 'object' && 'toJSON' in value && typeof value.toJSON === 'function') {
    return canonical((value.toJSON as () => unknown)());
  }
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'number') return Number.isFinite(value) ? JSON.stringify(value) : 'null';
  if (typeof value === 'bigint') throw new TypeError('canonicalJson: bigint is not JSON');
  if (Array.isArray(value)) return `[${value.map((item) => canonical(item) ?? 'null').join(',')}]`;
  if (typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const members: string[] = [];
    for (const key of Object.keys(record).sort()) {
      const member = canonical(record[key]);
      if (member !== undefined) members.push(`${JSON.stringify(key)}:${member}`);
    }
    return `{${members.join(',')}}`;
  }
  return undefined; // undefined, functions, symbols: dropped, as JSON.stringify does
}

export interface JournalEntry {
  seq: number;
  /** ISO instant; stored and hashed to the millisecond. */
  at: string;
  stepKey?: string | null;
  event: string;
  partyId?: string | null;
  actor?: string | null;
  clause?: string | null;
  data: unknown;
}

interface HashedFields {
  processId: string;
  seq: number;
  at: string;
  stepKey: string | null;
  event: string;
  partyId: string | null;
  actor: string | null;
  clause: string | null;
  data: unknown;
}

function entryHash(prevHash: string, fields: HashedFields): string {
  return createHash('sha256').update(prevHash + canonicalJson(fields), 'utf8').digest('hex');
}

function normalise(processId: string, entry: JournalEntry): HashedFields {
  const at = new Date(entry.at);
  if (Number.isNaN(at.getTime())) throw new RangeError(`journal entry ${entry.seq}: invalid instant ${entry.at}`);
  // Hash what a read gives back: the jsonb round trip of data, the millisecond ISO instant.
  const data: unknown = JSON.parse(JSON.stringify(entry.data ?? null));
  return {
    processId,
    seq: entry.seq,
    at: at.toISOString(),
    stepKey: entry.stepKey ?? null,
    event: entry.event,
    partyId: entry.partyId ?? null,
    actor: entry.actor ?? null,
    clause: entry.clause ?? null,
    data,
  };
}

/** The stored row of an entry, hashed onto its predecessor's hash. */
function chainedRow(processId: string, entry: JournalEntry, prevHash: string) {
  const fields = normalise(processId, entry);
  return {
    process_id: processId,
    seq: fields.seq,
    at: fields.at,
    step_key: fields.stepKey,
    event: fields.event,
    party_id: fields.partyId,
    actor: fields.actor,
    clause: fields.clause,
    data: jsonb(fields.data),
    prev_hash: prevHash,
    hash: entryHash(prevHash, fields),
  };
}

/**
 * The common case in two round trips: consecutive entries none of which is stored yet are
 * chained in memory and written by one INSERT. Anything else (a retry that finds some stored)
 * returns undefined and takes the entry-by-entry path.
 */
async function appendNew(trx: Kysely<Schema>, processId: string, sorted: JournalEntry[]): Promise<{ appended: number } | undefined> {
  const first = sorted[0]!;
  if (!Number.isInteger(first.seq) || first.seq < 1 || sorted.some((e, i) => e.seq !== first.seq + i)) return undefined;
  const stored = await trx
    .selectFrom('journal')
    .select(['seq', 'hash'])
    .where('process_id', '=', processId)
    .where('seq', '>=', first.seq - 1)
    .orderBy('seq')
    .limit(2)
    .execute();
  if (stored.some((r) => r.seq >= first.seq)) return undefined;
  const prev = first.seq === 1 ? GENESIS_HASH : stored[0]?.hash;
  if (prev === undefined) throw new JournalGapError(processId, first.seq);
  let prevHash = prev;
  const rows = sorted.map((entry) => {
    const row = chainedRow(processId, entry, prevHash);
    prevHash = row.hash;
    return row;
  });
  const inserted = await trx.insertInto('journal').values(rows).onConflict((oc) => oc.columns(['process_id', 'seq']).doNothing()).returning('seq').execute();
  // A concurrent writer got in between: undo this transaction, the caller's retry takes the slow path.
  if (inserted.length !== rows.length) throw new Error(`journal of ${processId}: entries ${first.seq}… were written concurrently`);
  return { appended: rows.length };
}

export class JournalGapError extends Error {
  constructor(processId: string, seq: number) {
    super(`journal of ${processId}: entry ${seq - 1} is missing before ${seq}`);
    this.name = 'JournalGapError';
  }
}

/**
 * Appends entries in one transaction. An entry whose (processId, seq) exists is skipped,
 * so a retried local activity writes nothing twice; the chain continues from what is stored.
 */
export async function appendJournal(db: Kysely<Schema>, processId: string, entries: JournalEntry[]): Promise<{ appended: number }> {
  if (entries.length === 0) return { appended: 0 };
  const sorted = [...entries].sort((a, b) => a.seq - b.seq);
  return inTransaction(db, async (trx) => {
    const fast = await appendNew(trx, processId, sorted);
    if (fast !== undefined) return fast;
    let appended = 0;
    let previous: { seq: number; hash: string } | undefined;
    for (const entry of sorted) {
      if (!Number.isInteger(entry.seq) || entry.seq < 1) throw new RangeError(`journal seq must be a positive integer, got ${entry.seq}`);
      let prevHash: string;
      if (entry.seq === 1) prevHash = GENESIS_HASH;
      else if (previous?.seq === entry.seq - 1) prevHash = previous.hash;
      else {
        const stored = await trx
          .selectFrom('journal')
          .select('hash')
          .where('process_id', '=', processId)
          .where('seq', '=', entry.seq - 1)
          .executeTakeFirst();
        if (!stored) throw new JournalGapError(processId, entry.seq);
        prevHash = stored.hash;
      }
      const row = chainedRow(processId, entry, prevHash);
      const hash = row.hash;
      const inserted = await trx
        .insertInto('journal')
        .values(row)
        .onConflict((oc) => oc.columns(['process_id', 'seq']).doNothing())
        .returning('hash')
        .executeTakeFirst();
      if (inserted) {
        appended += 1;
        previous = { seq: entry.seq, hash };
      } else {
        const stored = await trx
          .selectFrom('journal')
          .select('hash')
          .where('process_id', '=', processId)
          .where('seq', '=', entry.seq)
          .executeTakeFirstOrThrow();
        previous = { seq: entry.seq, hash: stored.hash };
      }
    }
    return { appended };
  });
}

export function readJournal(db: Kysely<Schema>, processId: string): Promise<JournalRow[]> {
  return db.selectFrom('journal').selectAll().where('process_id', '=', processId).orderBy('seq').execute();
}

export type JournalVerdict = { ok: true; length: number } | { ok: false; brokenAt: number; reason: string };

/** Recomputes every hash of a process's journal: any edited, removed or reordered entry is found. */
export async function verifyJournal(db: Kysely<Schema>, processId: string): Promise<JournalVerdict> {
  const rows = await readJournal(db, processId);
  let prevHash = GENESIS_HASH;
  for (const [index, row] of rows.entries()) {
    const expectedSeq = index + 1;
    if (row.seq !== expectedSeq) return { ok: false, brokenAt: expectedSeq, reason: `entry ${expectedSeq} is missing` };
    if (row.prev_hash !== prevHash) return { ok: false, brokenAt: row.seq, reason: 'prev_hash does not match the previous entry' };
    const hash = entryHash(prevHash, {
      processId,
      seq: row.seq,
      at: row.at.toISOString(),
      stepKey: row.step_key,
      event: row.event,
      partyId: row.party_id,
      actor: row.actor,
      clause: row.clause,
      data: row.data,
    });
    if (hash !== row.hash) return { ok: false, brokenAt: row.seq, reason: 'content does not match its hash' };
    prevHash = row.hash;
  }
  return { ok: true, length: rows.length };
}
