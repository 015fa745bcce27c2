// The principal behind an API key, kept in memory so a request costs no database round trip
// to authenticate. Only while the node listens to key changes (db/migrations/0009: any
// revocation, whoever makes it, is announced to every node; 0010: so is any change to a
// user's roles, which bound what the user's keys may do): without a live listener nothing
// is cached and every request reads the key, so a revocation always counts at once.
import type { Principal } from '../db/api-keys';
import type { ChangeHandlers } from '../db/notifications';

export interface PrincipalCache extends ChangeHandlers {
  get(secretHash: string): Principal | undefined;
  /** Reads a principal through the cache; `read` runs on a miss. */
  through(secretHash: string, read: () => Promise<Principal | undefined>): Promise<Principal | undefined>;
}

export interface PrincipalCacheOptions {
  /** A backstop: an entry is read again after this long even without a notification. */
  ttlMs?: number;
  maxEntries?: number;
  now?: () => number;
}

export function createPrincipalCache(options: PrincipalCacheOptions = {}): PrincipalCache {
  const { ttlMs = 60_000, maxEntries = 10_000, now = Date.now } = options;
  const entries = new Map<string, { principal: Principal; at: number }>();
  let live = false;
  // Bumped by every change: a read that started before a change may hold what the change
  // revoked, so its result is used but not kept.
  let generation = 0;

  const clear = () => {
    generation += 1;
    entries.clear();
  };

  const cache: PrincipalCache = {
    get(secretHash) {
      if (!live) return undefined;
      const entry = entries.get(secretHash);
      if (!entry) return undefined;
      if (now() - entry.at >= ttlMs) {
        entries.delete(secretHash);
        return undefined;
      }
      return entry.principal;
    },
    async through(secretHash, read) {
      const hit = cache.get(secretHash);
      if (hit) return hit;
      const seen = generation;
      const principal = await read();
      if (principal && live && generation === seen) {
        entries.set(secretHash, { principal, at: now() });
        if (entries.size > maxEntries) entries.delete(entries.keys().next().value as string);
      }
      return principal;
    },
    onNotify(payload) {
      if (payload === '*') {
        clear();
        return;
      }
      generation += 1;
      // `user:<id>`: a user's roles changed (migration 0010), so every key of that user is read again.
      const userId = payload.startsWith('user:') ? payload.slice('user:'.length) : undefined;
      for (const [hash, entry] of entries) {
        if (userId !== undefined ? entry.principal.userId === userId : entry.principal.keyId === payload) entries.delete(hash);
      }
    },
    onLive(isLive) {
      // Changes made while not listening were not heard: start from nothing either way.
      live = isLive;
      clear();
    },
  };
  return cache;
}
