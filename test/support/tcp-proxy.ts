// A TCP proxy a test puts between Mandate and a dependency (PostgreSQL), to cut the line
// the ways networks fail: refused at once, or silent (a partition: nothing comes back).
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

/**
 * - `forward`: bytes pass both ways.
 * - `refuse`: a new connection is reset at once (as a stopped server's port answers); open ones go on.
 * - `blackhole`: new connections are accepted and never answered; open ones deliver nothing either way.
 */
export type ProxyMode = 'forward' | 'refuse' | 'blackhole';

export interface TcpProxy {
  /** 127.0.0.1:<port> */
  host: string;
  port: number;
  /** `url` with its host and port replaced by the proxy's. */
  via(url: string): string;
  readonly mode: ProxyMode;
  setMode(mode: ProxyMode): void;
  /** Destroys every open connection, both sides (a reset as the client sees it). */
  killConnections(): void;
  /** Connections open through the proxy now. */
  readonly connections: number;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: ProxyMode = 'forward';
  const open = new Set<Socket>();
  const track = (s: Socket) => {
    open.add(s);
    s.on('close', () => open.delete(s));
    s.on('error', () => undefined);
  };

  const server = createServer((client) => {
    if (mode === 'refuse') {
      client.on('error', () => undefined);
      client.resetAndDestroy();
      return;
    }
    track(client);
    // Accepted while silent: never connected upstream, as a SYN lost in a partition.
    if (mode === 'blackhole') return;
    const upstream = connect(target.port, target.host);
    track(upstream);
    client.on('data', (d: Buffer) => mode === 'blackhole' || upstream.write(d));
    upstream.on('data', (d: Buffer) => mode === 'blackhole' || client.write(d));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    host: '127.0.0.1',
    port,
    via(url) {
      const u = new URL(url);
      u.host = `127.0.0.1:${port}`;
      return u.toString();
    },
    get mode() {
      return mode;
    },
    setMode(next) {
      mode = next;
    },
    killConnections() {
      for (const s of open) s.destroy();
    },
    get connections() {
      return open.size;
    },
    async close() {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
