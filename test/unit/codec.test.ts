// The payload codec: AES-256-GCM per payload, named key ids so keys rotate without
// breaking the histories written with an older key.
import { randomBytes } from 'node:crypto';
import type { Payload } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { EncryptionCodec, newCodecKeySpec, parseCodecKeys } from '../../temporal/codec';

const k1 = newCodecKeySpec('k1');
const k2 = newCodecKeySpec('k2');
const codec = (spec: string) => new EncryptionCodec(parseCodecKeys(spec));

function jsonPayload(value: unknown): Payload {
  return { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from(JSON.stringify(value)) };
}
const text = (p: Payload | undefined) => Buffer.from(p?.data ?? []).toString();

describe('EncryptionCodec', () => {
  it('when a payload is encoded then decoded, then it comes back unchanged and is unreadable in between', async () => {
    const c = codec(k1);
    const original = jsonPayload({ lastName: 'Lovelace', email: 'ada@example.org' });
    const [encoded] = await c.encode([original]);
    expect(Buffer.from(encoded!.metadata!.encoding!).toString()).toBe('binary/encrypted');
    expect(Buffer.from(encoded!.metadata!['encryption-key-id']!).toString()).toBe('k1');
    expect(text(encoded)).not.toContain('Lovelace');
    const [decoded] = await c.decode([encoded!]);
    expect(text(decoded)).toBe(text(original));
    expect(Buffer.from(decoded!.metadata!.encoding!).toString()).toBe('json/plain');
  });

  it('when the same payload is encoded twice, then the ciphertexts differ (fresh IV)', async () => {
    const c = codec(k1);
    const [a] = await c.encode([jsonPayload('x')]);
    const [b] = await c.encode([jsonPayload('x')]);
    expect(Buffer.compare(Buffer.from(a!.data!), Buffer.from(b!.data!))).not.toBe(0);
  });

  it('when keys rotate to "k2,k1", then old payloads still decrypt and new ones use k2', async () => {
    const [old] = await codec(k1).encode([jsonPayload({ n: 1 })]);
    const rotated = codec(`${k2},${k1}`);
    expect(text((await rotated.decode([old!]))[0])).toBe('{"n":1}');
    const [fresh] = await rotated.encode([jsonPayload({ n: 2 })]);
    expect(Buffer.from(fresh!.metadata!['encryption-key-id']!).toString()).toBe('k2');
    await expect(codec(k1).decode([fresh!])).rejects.toThrow(/unknown key "k2".*MANDATE_CODEC_KEYS/);
  });

  it('when a payload names a key id that is not configured, then decoding fails with a clear error', async () => {
    const [encoded] = await codec(k1).encode([jsonPayload('secret')]);
    await expect(codec(k2).decode([encoded!])).rejects.toThrow('payload encrypted with unknown key "k1": add it to MANDATE_CODEC_KEYS');
  });

  it('when the ciphertext is tampered with, then decoding fails', async () => {
    const c = codec(k1);
    const [encoded] = await c.encode([jsonPayload({ amount: 100 })]);
    const data = Buffer.from(encoded!.data!);
    data[14] = data[14]! ^ 0x01;
    await expect(c.decode([{ ...encoded!, data }])).rejects.toThrow(/authenticate/);
  });

  it('when a payload is not encrypted, then decode leaves it alone', async () => {
    const plain = jsonPayload('clear');
    expect(await codec(k1).decode([plain])).toEqual([plain]);
  });

  it('when key specs are malformed, then parsing names the problem', () => {
    expect(() => parseCodecKeys('')).toThrow(/no codec key/);
    expect(() => parseCodecKeys('nokey')).toThrow(/must be "<id>:<base64 key>"/);
    expect(() => parseCodecKeys(`short:${randomBytes(16).toString('base64')}`)).toThrow(/"short" must be 32 bytes/);
    expect(() => parseCodecKeys(`${k1},${k1}`)).toThrow(/unique/);
  });
});
