// The client's signing helper (cli/sign.ts): the bytes it signs are the documented canonical
// JSON, and what it signs is what the workflow verifies; anything changed after signing fails.
import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { approvalBytes, generateSigningKey, readSigningKey, signedCompletion, writeSigningKey } from '../../cli/sign';
import { approvalActOf, partySignatureRefusal, publicKeyOf } from '../../domain/signatures';

const approval = { processId: 'mandate:ctr:p:k', taskId: 'tsk_1', userId: 'u-dsi-paul', decision: 'approve' as const, comment: 'ok' };

describe('cli/sign', () => {
  it('when an approval is signed, then the bytes are the canonical JSON documented in README "Security model"', () => {
    expect(new TextDecoder().decode(approvalBytes(approval))).toBe(
      '{"comment":"ok","decision":"approve","kind":"mandate.approval.v1","processId":"mandate:ctr:p:k","taskId":"tsk_1","userId":"u-dsi-paul"}',
    );
  });

  it("when the holder signs, then the workflow's rule accepts it; another key, another task or another decision is refused", () => {
    const key = generateSigningKey();
    const registered = [{ id: 'sk_1', userId: 'u-dsi-paul', publicKey: key.publicKey, revoked: false }];
    const body = signedCompletion(approval, { keyId: 'sk_1', secretKey: key.secretKey });
    expect(partySignatureRefusal(registered, approvalActOf(approval, approval.processId), body.clientSignature)).toBeUndefined();
    expect(partySignatureRefusal(registered, approvalActOf({ ...approval, decision: 'reject' }, approval.processId), body.clientSignature)).toMatch(/does not match/);
    expect(partySignatureRefusal(registered, approvalActOf({ ...approval, taskId: 'tsk_2' }, approval.processId), body.clientSignature)).toMatch(/does not match/);
    expect(partySignatureRefusal(registered, approvalActOf(approval, 'mandate:ctr:p:other'), body.clientSignature)).toMatch(/does not match/);
    const other = signedCompletion(approval, { keyId: 'sk_1', secretKey: generateSigningKey().secretKey });
    expect(partySignatureRefusal(registered, approvalActOf(approval, approval.processId), other.clientSignature)).toMatch(/does not match/);
    expect(partySignatureRefusal(registered, approvalActOf(approval, approval.processId), undefined)).toMatch(/requires its approvals to be signed/);
    expect(partySignatureRefusal([{ ...registered[0]!, revoked: true }], approvalActOf(approval, approval.processId), body.clientSignature)).toMatch(/unknown key/);
    // Another user's key does not sign for this one.
    expect(partySignatureRefusal([{ ...registered[0]!, userId: 'u-dsi-anne' }], approvalActOf(approval, approval.processId), body.clientSignature)).toMatch(/unknown key/);
    // A party that registered no key is not asked for signatures.
    expect(partySignatureRefusal([], approvalActOf(approval, approval.processId), undefined)).toBeUndefined();
  });

  it('when keygen writes a key, then only its owner reads it and its public key matches', async () => {
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'mandate-sign-')), 'paul.key');
    const publicKey = await writeSigningKey(file);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(publicKeyOf(await readSigningKey(file))).toBe(publicKey);
    await expect(writeSigningKey(file)).rejects.toThrow(/EEXIST/);
  });
});
