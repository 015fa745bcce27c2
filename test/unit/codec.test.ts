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
const unverified = (reason: string) => JSON.stringify({ $mandate: 'unverified', reason });
const wfContext = (workflowId: string) => ({ type: 'workflow' as const, namespace: 'default', workflowId });

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
    expect(text((await codec(k1).decode([fresh!]))[0])).toBe(unverified('unknown-key'));
  });

  // A decode error on the worker fails the workflow task again and again: what cannot be
  // verified becomes a marker the workflow drops or refuses, and it is counted.
  it('when a payload names a key id that is not configured, then it decodes to the unverified marker and is counted', async () => {
    const seen: string[] = [];
    const [encoded] = await codec(k1).encode([jsonPayload('secret')]);
    const decoded = await new EncryptionCodec(parseCodecKeys(k2), { onUnverified: (reason) => seen.push(reason) }).decode([encoded!]);
    expect(text(decoded[0])).toBe(unverified('unknown-key'));
    expect(seen).toEqual(['unknown-key']);
  });

  it('when the ciphertext is tampered with, then it decodes to the unverified marker', async () => {
    const c = codec(k1);
    const [encoded] = await c.encode([jsonPayload({ amount: 100 })]);
    const data = Buffer.from(encoded!.data!);
    data[14] = data[14]! ^ 0x01;
    expect(text((await c.decode([{ ...encoded!, data }]))[0])).toBe(unverified('not-authentic'));
  });

  it('when a payload is not encrypted, then it decodes to the unverified marker, never to its content', async () => {
    const decoded = await codec(k1).decode([jsonPayload({ userId: 'u-invented', roles: ['approver'] })]);
    expect(text(decoded[0])).toBe(unverified('plaintext'));
  });

  it('when a payload encrypted for one process is decoded for another, then it is unverified', async () => {
    const c = codec(k1);
    const [encoded] = await c.encode([jsonPayload({ n: 1 })], wfContext('mandate:c:p:one'));
    expect(Buffer.from(encoded!.metadata!['mandate-binding']!).toString()).toBe('mandate:c:p:one');
    expect(text((await c.decode([encoded!], wfContext('mandate:c:p:one')))[0])).toBe('{"n":1}');
    expect(text((await c.decode([encoded!], wfContext('mandate:c:p:two')))[0])).toBe(unverified('wrong-process'));
    // Rewriting the metadata does not help: the binding is the cipher's additional data.
    const relabelled = { ...encoded!, metadata: { ...encoded!.metadata, 'mandate-binding': Buffer.from('mandate:c:p:two') } };
    expect(text((await c.decode([relabelled], wfContext('mandate:c:p:two')))[0])).toBe(unverified('not-authentic'));
    // Activities of the process share its binding; a remote decoder without context reads the metadata.
    expect(text((await c.decode([encoded!], { type: 'activity', namespace: 'default', workflowId: 'mandate:c:p:one', isLocal: false }))[0])).toBe('{"n":1}');
    expect(text((await c.decode([encoded!]))[0])).toBe('{"n":1}');
  });

  it('when a schedule encrypted its action for the unsuffixed id, then the scheduled run with its time suffix decodes it', async () => {
    const c = codec(k1);
    const [encoded] = await c.encode([jsonPayload({ n: 1 })], wfContext('mandate:c:backup:scheduled'));
    expect(text((await c.decode([encoded!], wfContext('mandate:c:backup:scheduled-2027-03-08T01:00:00Z')))[0])).toBe('{"n":1}');
  });

  it('when a payload was encrypted before binding existed, then it decodes unless binding is required', async () => {
    const [legacy] = await codec(k1).encode([jsonPayload({ n: 1 })]);
    expect(legacy!.metadata!['mandate-binding']).toBeUndefined();
    expect(text((await codec(k1).decode([legacy!], wfContext('mandate:c:p:one')))[0])).toBe('{"n":1}');
    const strict = new EncryptionCodec(parseCodecKeys(k1), { requireBinding: true });
    expect(text((await strict.decode([legacy!], wfContext('mandate:c:p:one')))[0])).toBe(unverified('unbound'));
  });

  it('when key specs are malformed, then parsing names the problem', () => {
    expect(() => parseCodecKeys('')).toThrow(/no codec key/);
    expect(() => parseCodecKeys('nokey')).toThrow(/must be "<id>:<base64 key>"/);
    expect(() => parseCodecKeys(`short:${randomBytes(16).toString('base64')}`)).toThrow(/"short" must be 32 bytes/);
    expect(() => parseCodecKeys(`${k1},${k1}`)).toThrow(/unique/);
  });
});
