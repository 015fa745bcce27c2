// Secrets the system must read back (webhook signing secrets, replayable responses) are
// stored sealed: AES-256-GCM under a key derived from the deployment's codec keys, so the
// database alone never reveals them. The first key seals, every key opens (rotation).
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

export interface SecretBox {
  /** `context` is bound to the ciphertext (e.g. the row id): a value moved to another row does not open. */
  seal(plain: string, context: string): string;
  open(sealed: string, context: string): string;
}

export interface SecretBoxKey {
  id: string;
  /** 32 bytes. */
  key: Buffer;
}

const VERSION = 'sb1';

/** A distinct key per purpose: the payload codec's keys are never used as-is here. */
function derive(key: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'mandate/secret-box/v1', 32));
}

export function createSecretBox(keys: readonly SecretBoxKey[]): SecretBox {
  const [active] = keys;
  if (!active) throw new Error('a secret box needs at least one key');
  const byId = new Map(keys.map((k) => [k.id, derive(k.key)]));
  const activeKey = byId.get(active.id)!;
  return {
    seal(plain, context) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', activeKey, iv);
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return `${VERSION}:${active.id}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
    },
    open(sealed, context) {
      const [version, kid, data, ...rest] = sealed.split(':');
      if (version !== VERSION || !kid || !data || rest.length > 0) throw new Error('not a sealed value');
      const key = byId.get(kid);
      if (!key) throw new Error(`sealed with unknown key "${kid}"`);
      const raw = Buffer.from(data, 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    },
  };
}

/** A box whose key lives only in this process: for tests and set-ups without configured keys. */
export function ephemeralSecretBox(): SecretBox {
  return createSecretBox([{ id: 'ephemeral', key: randomBytes(32) }]);
}
