// Encrypts every payload Mandate sends to Temporal (HR processes carry personal data).
// Each payload names its key id, so keys rotate: the first key encrypts, all keys decrypt.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { ValueError } from '@temporalio/common';
import proto from '@temporalio/proto';

// CommonJS package: named ESM imports fail under plain Node, so take the namespace object.
const { temporal } = proto;

const ENCODING = 'binary/encrypted';
const CIPHER = 'aes-256-gcm';

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

  constructor(keys: CodecKey[]) {
    const [active] = keys;
    if (!active) throw new ValueError('EncryptionCodec needs at least one key');
    this.active = active;
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const iv = randomBytes(12);
      const cipher = createCipheriv(CIPHER, this.active.key, iv);
      const plain = temporal.api.common.v1.Payload.encode(payload).finish();
      const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: {
          encoding: Buffer.from(ENCODING),
          'encryption-key-id': Buffer.from(this.active.id),
        },
        data,
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (Buffer.from(payload.metadata?.encoding ?? []).toString() !== ENCODING) return payload;
      const keyId = Buffer.from(payload.metadata?.['encryption-key-id'] ?? []).toString();
      const key = this.byId.get(keyId);
      if (!key) throw new ValueError(`payload encrypted with unknown key "${keyId}": add it to MANDATE_CODEC_KEYS`);
      const data = Buffer.from(payload.data ?? []);
      const iv = data.subarray(0, 12);
      const tag = data.subarray(data.length - 16);
      const decipher = createDecipheriv(CIPHER, key, iv);
      decipher.setAuthTag(tag);
      const plain = Buffer.concat([decipher.update(data.subarray(12, data.length - 16)), decipher.final()]);
      return temporal.api.common.v1.Payload.decode(plain);
    });
  }
}
