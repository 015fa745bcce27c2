import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendJournal, canonicalJson, GENESIS_HASH, JournalGapError, readJournal, verifyJournal, type JournalEntry } from '../../db/journal';
import { createTestDatabase, type TestDatabase } from '../support/db';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t.drop();
});

const entries = (processId: string): JournalEntry[] => [
  { seq: 1, at: '2025-01-01T08:00:00Z', event: 'process.started', actor: 'alice', partyId: 'acme-it', data: { input: { month: '2025-01' } } },
  { seq: 2, at: '2025-01-01T08:00:01.250Z', stepKey: 'approve', event: 'task.opened', partyId: 'globex', clause: 'raci:patch.approve', data: { taskId: `${processId}:approve` } },
  { seq: 3, at: '2025-01-02T09:30:00Z', stepKey: 'approve', event: 'task.done', actor: 'bob', partyId: 'globex', data: { b: [1, 2.5, null], a: 'é' } },
];

describe('canonicalJson', () => {
  it('when keys come in any order, then the text is the same, sorted and without whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [true, null], c: 'x' }, u: undefined })).toBe('{"a":{"c":"x","d":[true,null]},"b":1}');
    expect(canonicalJson({ a: { c: 'x', d: [true, null] }, b: 1 })).toBe(canonicalJson({ b: 1, a: { d: [true, null], c: 'x' } }));
  });
});

describe('journal', () => {
  it('when three entries are appended and then appended again (a retry), then three rows remain and the chain verifies', async () => {
    expect(await appendJournal(t.db, 'p1', entries('p1'))).toEqual({ appended: 3 });
    expect(await appendJournal(t.db, 'p1', entries('p1'))).toEqual({ appended: 0 });
    const rows = await readJournal(t.db, 'p1');
    expect(rows.map((row) => row.seq)).toEqual([1, 2, 3]);
    expect(rows[0]!.prev_hash).toBe(GENESIS_HASH);
    expect(rows[1]!.prev_hash).toBe(rows[0]!.hash);
    expect(await verifyJournal(t.db, 'p1')).toEqual({ ok: true, length: 3 });
  });

  it('when entries come one batch at a time, then the chain continues from what is stored', async () => {
    const [first, second, third] = entries('p2');
    await appendJournal(t.db, 'p2', [first!]);
    await appendJournal(t.db, 'p2', [second!, third!]);
    expect(await verifyJournal(t.db, 'p2')).toEqual({ ok: true, length: 3 });
  });

  it('when an entry skips a seq, then the append fails and writes nothing', async () => {
    const [first, , third] = entries('p3');
    await expect(appendJournal(t.db, 'p3', [first!, third!])).rejects.toBeInstanceOf(JournalGapError);
    expect(await readJournal(t.db, 'p3')).toEqual([]);
  });

  it('when a row is updated or deleted, then the database refuses', async () => {
    await expect(sql`update journal set event = 'x' where process_id = 'p1'`.execute(t.db)).rejects.toThrow(/append-only/);
    await expect(sql`delete from journal where process_id = 'p1'`.execute(t.db)).rejects.toThrow(/append-only/);
  });

  it('when someone with the power to disable the trigger edits an entry, then verify names the broken seq', async () => {
    await appendJournal(t.db, 'p4', entries('p4'));
    await sql`alter table journal disable trigger journal_append_only`.execute(t.db);
    try {
      await sql`update journal set data = '{"a":"é","b":[1,2.5,null],"forged":true}' where process_id = 'p4' and seq = 3`.execute(t.db);
    } finally {
      await sql`alter table journal enable trigger journal_append_only`.execute(t.db);
    }
    expect(await verifyJournal(t.db, 'p4')).toEqual({ ok: false, brokenAt: 3, reason: 'content does not match its hash' });
  });

  it('when an entry is removed, then verify names the missing seq', async () => {
    await appendJournal(t.db, 'p5', entries('p5'));
    await sql`alter table journal disable trigger journal_append_only`.execute(t.db);
    try {
      await sql`delete from journal where process_id = 'p5' and seq = 2`.execute(t.db);
    } finally {
      await sql`alter table journal enable trigger journal_append_only`.execute(t.db);
    }
    expect(await verifyJournal(t.db, 'p5')).toMatchObject({ ok: false, brokenAt: 2 });
  });
});
