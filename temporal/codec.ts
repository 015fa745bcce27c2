// Encrypts every payload Mandate sends to Temporal (HR processes carry personal data).
// Each payload names its key id, so keys rotate: the first key encrypts, all keys decrypt.
// Encryption binds the process a payload belongs to (docs/ARCHITECTURE.md "Trust boundaries"):
// the workflow id from the SDK's serialization context (experimental in 1.24: the SDK is
// pinned exactly) is the cipher's additional data and is written in the metadata, so a
// payload copied from one process's history into another is refused. A payload this
// deployment did not encrypt for this process is never thrown at (a decode error fails the
// workflow task again and again): it becomes an `Unverified` marker that handlers drop and
// validators refuse.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec, SerializationContext } from '@temporalio/common';
import { ValueError } from '@temporalio/common';
import proto from '@temporalio/proto';
import { processBinding, type Unverified } from '../domain/signatures';

// CommonJS package: named ESM imports fail under plain Node, so take the namespace object.
const { temporal } = proto;

const ENCODING = 'binary/encrypted';
const CIPHER = 'aes-256-gcm';
/** Metadata naming the process the payload is bound to (remote decoders read it there). */
export const BINDING_METADATA = 'mandate-binding';

export type UnverifiedReason = 'plaintext' | 'unknown-key' | 'not-authentic' | 'wrong-process' | 'unbound';

export interface CodecOptions {
  /**
   * Refuse payloads encrypted before binding existed (MANDATE_CODEC_REQUIRE_BINDING), once no
   * process that started before remains. Until then they are accepted, unbound.
   */
  requireBinding?: boolean;
  /** Told of every payload marked unverified (the worker counts them: worker/metrics.ts). */
  onUnverified?: (reason: UnverifiedReason, context: SerializationContext | undefined) => void;
}

/** The process a context's payloads belong to: the workflow's id (a scheduled run's without its time suffix). */
export function bindingOf(context: SerializationContext | undefined): string | undefined {
  const workflowId = context?.workflowId;
  return workflowId ? processBinding(workflowId) : undefined;
}

function unverifiedPayload(reason: UnverifiedReason): Payload {
  const marker: Unverified = { $mandate: 'unverified', reason };
  return { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from(JSON.stringify(marker)) };
}

export interface CodecKey {
  id: string;
  key: Buffer;
}

/** Parses "kid:base64,kid2:base64" (32-byte keys); the first is the active one. */
export function parseCodecKeys(spec: string): CodecKey[] {
  const keys = spec.split(',').map((part) => part.trim()).filter(Boolean).map((part) => {
    const sep = part.indexOf(':');
    if (sep <= 0) throw new ValueError(`codec key "${part.slice(0, 8)}…" must be "<id>:<base64 key>"`);
    const id = part.slice(0, sep);
    const key = Buffer.from(part.slice(sep + 1), 'base64');
    if (key.length !== 32) throw new ValueError(`codec key "${id}" must be 32 bytes (base64), got ${key.length}`);
    return { id, key };
  });
  if (keys.length === 0) throw new ValueError('no codec key given');
  if (new Set(keys.map((k) => k.id)).size !== keys.length) throw new ValueError('codec key ids must be unique');
  return keys;
}

export function newCodecKeySpec(id = `k${Date.now().toString(36)}`): string {
  return `${id}:${randomBytes(32).toString('base64')}`;
}

export class EncryptionCodec implements PayloadCodec {
  private readonly byId: Map<string, Buffer>;
  private readonly active: CodecKey;

  constructor(
    keys: CodecKey[],
    private readonly options: CodecOptions = {},
  ) {
    const [active] = keys;
    if (!active) throw new ValueError('EncryptionCodec needs at least one key');
    this.active = active;
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  async encode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    const binding = bindingOf(context);
    return payloads.map((payload) => {
      const iv = randomBytes(12);
      const cipher = createCipheriv(CIPHER, this.active.key, iv);
      if (binding) cipher.setAAD(Buffer.from(binding));
      const plain = temporal.api.common.v1.Payload.encode(payload).finish();
      const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: {
          encoding: Buffer.from(ENCODING),
          'encryption-key-id': Buffer.from(this.active.id),
          ...(binding && { [BINDING_METADATA]: Buffer.from(binding) }),
        },
        data,
      };
    });
  }

  async decode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    const expected = bindingOf(context);
    return payloads.map((payload) => {
      const verdict = this.decodeOne(payload, expected);
      if ('payload' in verdict) return verdict.payload;
      this.options.onUnverified?.(verdict.reason, context);
      return unverifiedPayload(verdict.reason);
    });
  }

  private decodeOne(payload: Payload, expected: string | undefined): { payload: Payload } | { reason: UnverifiedReason } {
    if (Buffer.from(payload.metadata?.encoding ?? []).toString() !== ENCODING) return { reason: 'plaintext' };
    const keyId = Buffer.from(payload.metadata?.['encryption-key-id'] ?? []).toString();
    const key = this.byId.get(keyId);
    if (!key) return { reason: 'unknown-key' };
    const bound = payload.metadata?.[BINDING_METADATA] ? Buffer.from(payload.metadata[BINDING_METADATA]).toString() : undefined;
    // Without a context (a remote decoder, the UI's codec server) the metadata names the binding; the tag still proves it.
    if (bound !== undefined && expected !== undefined && bound !== expected) return { reason: 'wrong-process' };
    if (bound === undefined && this.options.requireBinding) return { reason: 'unbound' };
    try {
      const data = Buffer.from(payload.data ?? []);
      const iv = data.subarray(0, 12);
      const tag = data.subarray(data.length - 16);
      const decipher = createDecipheriv(CIPHER, key, iv);
      if (bound !== undefined) decipher.setAAD(Buffer.from(bound));
      decipher.setAuthTag(tag);
      const plain = Buffer.concat([decipher.update(data.subarray(12, data.length - 16)), decipher.final()]);
      return { payload: temporal.api.common.v1.Payload.decode(plain) };
    } catch {
      return { reason: 'not-authentic' };
    }
  }
}
