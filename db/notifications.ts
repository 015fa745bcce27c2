// PostgreSQL LISTEN/NOTIFY for what API nodes keep in memory: one dedicated connection per
// channel that reconnects by itself. Whoever relies on it must stop relying while it is not
// `live`: a notification sent while the connection was down is lost.
import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';

/** Key ids whose principal changed (db/migrations/0009), or `*` for all of them. */
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

export function listenPostgres(url: string, channel: string, handlers: ChangeHandlers, log?: { warn(obj: object, msg?: string): void }, retryMs = 1000): ChangeListener {
  if (!CHANNEL.test(channel)) throw new Error(`not a channel name: ${channel}`);
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
    const next = new pg.Client({ connectionString: url });
    let lost = false;
    const onLost = () => {
      if (lost) return;
      lost = true;
      if (client === next) client = undefined;
      handlers.onLive(false);
      if (!stopped) log?.warn({ channel }, 'database notifications lost: reconnecting');
      retry();
    };
    next.on('error', onLost);
    next.on('end', onLost);
    next.on('notification', (message) => {
      if (message.channel === channel) handlers.onNotify(message.payload ?? '');
    });
    try {
      await next.connect();
      await next.query(`LISTEN ${channel}`);
    } catch {
      await next.end().catch(() => undefined);
      onLost();
      return;
    }
    if (stopped) {
      await next.end().catch(() => undefined);
      return;
    }
    client = next;
    handlers.onLive(true);
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
