import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPrincipalByKey, issueApiKey, revokeApiKey } from '../../db/api-keys';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { seedParties } from './seed';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  await seedParties(t.db);
});
afterAll(async () => {
  await t.drop();
});

describe('api keys', () => {
  it('when a key is issued to a user, then the clear key finds its principal', async () => {
    const { id, key } = await issueApiKey(t.db, { partyId: 'globex', userId: 'bob', roles: ['approver'] });
    expect(key).toMatch(/^mk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(await findPrincipalByKey(t.db, key)).toEqual({ keyId: id, partyId: 'globex', partyKind: 'client', userId: 'bob', roles: ['approver'] });
  });

  it('when a key is issued to an agent, then the principal is the agent', async () => {
    const { key } = await issueApiKey(t.db, { partyId: 'globex', agentId: 'globex-agent-1', roles: ['agent'] });
    expect(await findPrincipalByKey(t.db, key)).toMatchObject({ agentId: 'globex-agent-1', roles: ['agent'] });
  });

  it('when a key is issued, then only its hash is stored, never the secret', async () => {
    const { id, key } = await issueApiKey(t.db, { partyId: 'acme-it', userId: 'alice', roles: ['admin'] });
    const { rows } = await sql<Record<string, unknown>>`select * from api_keys where id = ${id}`.execute(t.db);
    const stored = JSON.stringify(rows);
    expect(stored).not.toContain(key.split('_').slice(2).join('_'));
    expect(rows[0]!.secret_hash).toBe(createHash('sha256').update(key).digest('hex'));
  });

  it('when a key is wrong, malformed or revoked, then no principal is found', async () => {
    const { id, key } = await issueApiKey(t.db, { partyId: 'globex', userId: 'carol', roles: ['viewer'] });
    const wrong = `${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`;
    expect(await findPrincipalByKey(t.db, wrong)).toBeUndefined();
    expect(await findPrincipalByKey(t.db, 'not a key')).toBeUndefined();
    expect(await revokeApiKey(t.db, id)).toBe(true);
    expect(await revokeApiKey(t.db, id)).toBe(false);
    expect(await findPrincipalByKey(t.db, key)).toBeUndefined();
  });

  it('when a key is used twice within a minute, then last_used_at is written once', async () => {
    const { id, key } = await issueApiKey(t.db, { partyId: 'globex', userId: 'bob', roles: ['approver'] });
    await findPrincipalByKey(t.db, key);
    const first = await t.db.selectFrom('api_keys').select('last_used_at').where('id', '=', id).executeTakeFirstOrThrow();
    await findPrincipalByKey(t.db, key);
    const second = await t.db.selectFrom('api_keys').select('last_used_at').where('id', '=', id).executeTakeFirstOrThrow();
    expect(first.last_used_at).toBeInstanceOf(Date);
    expect(second.last_used_at).toEqual(first.last_used_at);
  });

  it("when a key names another party's user, then the database refuses it", async () => {
    await expect(issueApiKey(t.db, { partyId: 'acme-it', userId: 'bob', roles: ['admin'] })).rejects.toThrow(/foreign key/);
  });
});
