// The Temporal client the API uses: one connection, the payload codec, the namespace.
import { Client, Connection } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';

export interface TemporalHandle {
  client: Client;
  taskQueue: string;
  close(): Promise<void>;
}

export async function connectTemporal(opts: { address: string; namespace: string; taskQueue: string; codec: PayloadCodec }): Promise<TemporalHandle> {
  const connection = await Connection.connect({ address: opts.address });
  const client = new Client({ connection, namespace: opts.namespace, dataConverter: { payloadCodecs: [opts.codec] } });
  return { client, taskQueue: opts.taskQueue, close: () => connection.close() };
}
