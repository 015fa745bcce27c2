// A client's own signature on its approvals (README "Security model"): the key is made and
// kept here, on the client's side; only its public half is registered with the API (by the
// party's own admins), so the provider, which runs the API, can never sign in its place.
//
// Bytes signed: the UTF-8 of the RFC 8785 canonical JSON of
//   { "kind": "mandate.approval.v1", "processId", "taskId", "userId", "decision", "comment"?, "payload"? }
// with Ed25519 (RFC 8032); the signature goes in the completion as
//   "clientSignature": { "keyId": <the registered key's id>, "signature": <64 bytes, hex> }.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { actBytes, approvalActOf, contractSignatureActOf, publicKeyOf, signAct, type ApprovalAct, type Signature } from '../domain/signatures';

/** An approval as its act names it (domain/signatures.ts ApprovalAct), without the act's kind. */
export type ApprovalToSign = Omit<ApprovalAct, 'kind'>;

/** A new Ed25519 key: the secret stays with its holder; the public key is registered. */
export function generateSigningKey(): { secretKey: string; publicKey: string } {
  const secretKey = randomBytes(32).toString('hex');
  return { secretKey, publicKey: publicKeyOf(secretKey) };
}

/** Writes the secret key (hex) readable by its owner only; returns the public key. */
export async function writeSigningKey(file: string): Promise<string> {
  const key = generateSigningKey();
  await writeFile(file, key.secretKey + '\n', { mode: 0o600, flag: 'wx' });
  return key.publicKey;
}

export async function readSigningKey(file: string): Promise<string> {
  const secretKey = (await readFile(file, 'utf8')).trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(secretKey)) throw new Error(`${file} does not hold a 32-byte Ed25519 secret key in hex`);
  return secretKey;
}

/** The exact bytes signed for this approval (to check with any Ed25519 tool). */
export function approvalBytes(approval: ApprovalToSign): Uint8Array {
  return actBytes(approvalActOf(approval, approval.processId));
}

/** The body of POST /v1/tasks/{taskId}/complete, signed with the holder's key. */
export function signedCompletion(approval: ApprovalToSign, key: { keyId: string; secretKey: string }): { decision: 'approve' | 'reject'; comment?: string; payload?: Record<string, unknown>; clientSignature: Signature } {
  const clientSignature = signAct(approvalActOf(approval, approval.processId), { id: key.keyId, secretKey: key.secretKey });
  return {
    decision: approval.decision,
    ...(approval.comment !== undefined && { comment: approval.comment }),
    ...(approval.payload !== undefined && { payload: approval.payload }),
    clientSignature,
  };
}

/** A contract version to sign: what its signature task shows (`details`: contractId, version, documentSha256). */
export interface ContractVersionToSign {
  contractId: string;
  version: number;
  documentSha256: string;
  userId: string;
  partyId: string;
}

/**
 * The body of POST /v1/tasks/{taskId}/complete for a contract signature task, signed with the
 * holder's key over `{ "kind": "mandate.contract-signature.v1", "contractId", "version",
 * "documentHash", "userId", "partyId", "decision" }` (canonical JSON, as above).
 */
export function signedContractSignature(v: ContractVersionToSign, key: { keyId: string; secretKey: string }, decision: 'approve' | 'reject' = 'approve'): { decision: 'approve' | 'reject'; clientSignature: Signature } {
  const act = contractSignatureActOf({ contractId: v.contractId, version: v.version, documentHash: v.documentSha256, userId: v.userId, partyId: v.partyId, decision });
  return { decision, clientSignature: signAct(act, { id: key.keyId, secretKey: key.secretKey }) };
}
