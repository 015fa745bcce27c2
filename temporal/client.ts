// The Temporal client the API uses: one connection, the payload codec, the namespace.
import { Client, Connection, isRetryableError, makeGrpcRetryInterceptor, type GrpcRetryOptions } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import { FAILURE_CONVERTER_PATH } from './failure-converter-path';
import { attachSigner, signingInterceptor, type ActSigner } from './signing';

export interface TemporalHandle {
  client: Client;
  taskQueue: string;
  close(): Promise<void>;
}

/**
 * A request waits for Temporal a little, not the SDK's ~20 s of retries: while the server is
 * away a caller gets the API's 503 (or 202 for a completion) within about 2 s and retries.
 */
export const API_GRPC_RETRY: GrpcRetryOptions = {
  retryableDecider: (attempt, status) => attempt < 4 && isRetryableError(status),
  delayFunction: (attempt) => Math.min(1_000, 100 * 2 ** attempt) * (0.8 + Math.random() * 0.4),
};

/**
 * With `signer`, every start, completion and cancellation this client sends carries the
 * deployment's signature (temporal/signing.ts), and failures travel encrypted.
 */
export async function connectTemporal(opts: { address: string; namespace: string; taskQueue: string; codec: PayloadCodec; signer?: ActSigner }): Promise<TemporalHandle> {
  const connection = await Connection.connect({
    address: opts.address,
    interceptors: [makeGrpcRetryInterceptor(API_GRPC_RETRY)],
    // Reconnect within 5 s of the server's return, however long it was away (gRPC's default backs off to 120 s).
    channelArgs: { 'grpc.max_reconnect_backoff_ms': 5_000 },
  });
  const client = attachSigner(
    new Client({
      connection,
      namespace: opts.namespace,
      dataConverter: { payloadCodecs: [opts.codec], failureConverterPath: FAILURE_CONVERTER_PATH },
      interceptors: { workflow: opts.signer ? [signingInterceptor(opts.signer)] : [] },
    }),
    opts.signer,
  );
  return { client, taskQueue: opts.taskQueue, close: () => connection.close() };
}
