// PostgreSQL LISTEN/NOTIFY for what API nodes keep in memory: one dedicated connection per
// channel that reconnects by itself. Whoever relies on it must stop relying while it is not
// `live`: a notification sent while the connection was down is lost.
import type { PGlite } from '@electric-sql/pglite';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** Key ids whose principal changed (db/migrations/0009), `user:<id>` for a user whose roles changed (0011), or `*` for all of them. */
export const API_KEY_CHANNEL = 'mandate_api_keys';

export interface ChangeHandlers {
  onNotify(payload: string): void;
  /** True once listening; false when the connection is lost (until it is back, then true again). */
  onLive(live: boolean): void;
}

export interface ChangeListener {
  stop(): Promise<void>;
}

const CHANNEL = /^[a-z_][a-z0-9_]*$/;
/** Tells this process's pings from other nodes' on a shared channel. */
const pingToken = randomBytes(6).toString('hex');

export function listenPostgres(
  url: string,
  channel: string,
  handlers: ChangeHandlers,
  log?: { warn(obj: object, msg?: string): void },
  options: { retryMs?: number; pingMs?: number } = {},
): ChangeListener {
  if (!CHANNEL.test(channel)) throw new Error(`not a channel name: ${channel}`);
  const { retryMs = 1000, pingMs = 10_000 } = options;
  let stopped = false;
  let client: pg.Client | undefined;
  let timer: NodeJS.Timeout | undefined;

  const retry = () => {
    if (stopped || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      void connect();
    }, retryMs);
  };

  async function connect(): Promise<void> {
    // keepAlive: a connection dropped without a reset (failover, network) is noticed at all.
    const next = new pg.Client({ connectionString: url, keepAlive: true });
    let lost = false;
    let pinger: NodeJS.Timeout | undefined = undefined;
    const onLost = () => {
      if (lost) return;
      lost = true;
      clearInterval(pinger);
      if (client === next) client = undefined;
      handlers.onLive(false);
      void next.end().catch(() => undefined);
      if (!stopped) log?.warn({ channel }, 'database notifications lost: reconnecting');
      retry();
    };
    // A connection that stays open but delivers nothing (a pooler, a half-open socket) is
    // caught by a notification this listener sends itself: not heard by the next ping, lost.
    let pingSent = 0;
    let pingHeard = 0;
    next.on('error', onLost);
    next.on('end', onLost);
    next.on('notification', (message) => {
      if (message.channel !== channel) return;
      const payload = message.payload ?? '';
      if (payload.startsWith('ping:')) {
        if (payload === `ping:${pingToken}:${pingSent}`) pingHeard = pingSent;
        return;
      }
      handlers.onNotify(payload);
    });
    try {
      await next.connect();
      await next.query(`LISTEN ${channel}`);
    } catch {
      onLost();
      return;
    }
    if (stopped) {
      await next.end().catch(() => undefined);
      return;
    }
    client = next;
    handlers.onLive(true);
    pinger = setInterval(() => {
      if (pingHeard !== pingSent) {
        log?.warn({ channel }, 'database notifications not delivered');
        onLost();
        return;
      }
      pingSent += 1;
      next.query('SELECT pg_notify($1, $2)', [channel, `ping:${pingToken}:${pingSent}`]).catch(onLost);
    }, pingMs);
    pinger.unref();
  }

  void connect();
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      const current = client;
      client = undefined;
      handlers.onLive(false);
      await current?.end().catch(() => undefined);
    },
  };
}

/** PGlite runs in this process: its notifications are never lost while it is open. */
export async function listenPglite(client: PGlite, channel: string, handlers: ChangeHandlers): Promise<ChangeListener> {
  const unlisten = await client.listen(channel, (payload) => handlers.onNotify(payload));
  handlers.onLive(true);
  return {
    async stop() {
      handlers.onLive(false);
      await unlisten().catch(() => undefined);
    },
  };
}
