// The principal cache: used only while key changes are heard, emptied by a change, and never
// keeps what a read that raced a change returned.
import { describe, expect, it } from 'vitest';
import type { Principal } from '../../db/api-keys';
import { createPrincipalCache } from '../../api/principal-cache';

const alice: Principal = { keyId: 'k-alice', partyId: 'martin', partyKind: 'client', userId: 'alice', roles: ['operator'] };
const bob: Principal = { keyId: 'k-bob', partyId: 'martin', partyKind: 'client', userId: 'bob', roles: ['viewer'] };

function counting(principal: Principal | undefined) {
  let reads = 0;
  return {
    read: async () => {
      reads += 1;
      return principal;
    },
    get reads() {
      return reads;
    },
  };
}

describe('principal cache', () => {
  it('when the listener is not live, then nothing is kept: every request reads its key', async () => {
    const cache = createPrincipalCache();
    const source = counting(alice);
    expect(await cache.through('h-alice', source.read)).toBe(alice);
    expect(await cache.through('h-alice', source.read)).toBe(alice);
    expect(source.reads).toBe(2);
  });

  it('when live, then a key is read once; its revocation, a party change or a lost listener empties it', async () => {
    const cache = createPrincipalCache();
    cache.onLive(true);
    const a = counting(alice);
    const b = counting(bob);
    await cache.through('h-alice', a.read);
    await cache.through('h-bob', b.read);
    await cache.through('h-alice', a.read);
    expect(a.reads).toBe(1);

    cache.onNotify('k-alice');
    expect(cache.get('h-alice')).toBeUndefined();
    expect(cache.get('h-bob')).toBe(bob);

    cache.onNotify('*');
    expect(cache.get('h-bob')).toBeUndefined();

    await cache.through('h-bob', b.read);
    cache.onLive(false);
    expect(cache.get('h-bob')).toBeUndefined();
    cache.onLive(true);
    expect(cache.get('h-bob')).toBeUndefined();
  });

  it('when a change is heard while a key is being read, then that read answers once and is not kept', async () => {
    const cache = createPrincipalCache();
    cache.onLive(true);
    let release!: () => void;
    const slow = () =>
      new Promise<Principal>((resolve) => {
        release = () => resolve(alice);
      });
    const pending = cache.through('h-alice', slow);
    cache.onNotify('k-alice'); // Revoked after the read started: the read may hold the old row.
    release();
    expect(await pending).toBe(alice);
    expect(cache.get('h-alice')).toBeUndefined();
  });

  it('when an unknown key is read, then the miss is not kept (a key issued a moment later works)', async () => {
    const cache = createPrincipalCache();
    cache.onLive(true);
    expect(await cache.through('h-new', async () => undefined)).toBeUndefined();
    expect(await cache.through('h-new', async () => alice)).toBe(alice);
  });

  it('when an entry is older than the backstop, then it is read again', async () => {
    let clock = 0;
    const cache = createPrincipalCache({ ttlMs: 1000, now: () => clock });
    cache.onLive(true);
    const a = counting(alice);
    await cache.through('h-alice', a.read);
    clock = 999;
    await cache.through('h-alice', a.read);
    clock = 1000;
    await cache.through('h-alice', a.read);
    expect(a.reads).toBe(2);
  });

  it('when more keys than the bound are used, then the oldest go first', async () => {
    const cache = createPrincipalCache({ maxEntries: 2 });
    cache.onLive(true);
    for (const h of ['h1', 'h2', 'h3']) await cache.through(h, async () => ({ ...alice, keyId: h }));
    expect(cache.get('h1')).toBeUndefined();
    expect(cache.get('h3')?.keyId).toBe('h3');
  });
  it("when a user's roles change, then every key of that user is read again and other users' keys stay", async () => {
    const cache = createPrincipalCache();
    cache.onLive(true);
    const aliceSecond: Principal = { ...alice, keyId: 'k-alice-2' };
    const a = counting(alice);
    const a2 = counting(aliceSecond);
    const b = counting(bob);
    for (const [hash, source] of [['h-alice', a], ['h-alice-2', a2], ['h-bob', b]] as const) await cache.through(hash, source.read);
    cache.onNotify('user:alice');
    for (const [hash, source] of [['h-alice', a], ['h-alice-2', a2], ['h-bob', b]] as const) await cache.through(hash, source.read);
    expect([a.reads, a2.reads, b.reads]).toEqual([2, 2, 1]);
  });
});
