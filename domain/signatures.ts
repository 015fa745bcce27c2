// Signed acts (docs/ARCHITECTURE.md "Trust boundaries"): the bytes a signature covers and
// their Ed25519 check, pure so that the workflow sandbox verifies what the API and a client's
// own tools sign. Bytes signed: the UTF-8 of the RFC 8785 (JCS) canonical JSON of the act,
// an object whose `kind` says what it is and which names who, what and which process or task.
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes } from '@noble/curves/utils.js';
import canonicalize from 'canonicalize';

/** A signature as it travels: which key made it (hex of 64 bytes). */
export interface Signature {
  keyId: string;
  signature: string;
}

/** A public key a verifier accepts (hex of 32 bytes). */
export interface PublicKey {
  id: string;
  publicKey: string;
}

/** A client user's key, registered by its party's admins (api/routes/signing-keys.ts). */
export interface PartySigningKey extends PublicKey {
  userId: string;
  /** Revoked keys still make signatures required, but sign nothing any more. */
  revoked: boolean;
}

/** What a run verifies against, read at its start by a local activity (loadSigners). */
export interface Signers {
  /** The deployment's keys, with which the API signs acts carrying a person's identity. Empty: not checked. */
  deployment: PublicKey[];
  /** Per party, the keys its own admins registered for its users. */
  parties: Record<string, PartySigningKey[]>;
}

/** The start of a process, as the API (or a contract schedule, or the engine) asked for it. */
export interface StartAct {
  kind: 'mandate.process-start.v1';
  /** The workflow id (a scheduled run's without its time suffix). */
  processId: string;
  contractId: string;
  version: number;
  processType: string;
  businessKey: string;
  requestedBy: { userId: string; partyId: string };
  input: unknown;
  schedule?: unknown;
}

/** A person's completion of a task, as the API relays it. */
export interface CompletionAct {
  kind: 'mandate.task-completion.v1';
  processId: string;
  taskId: string;
  userId: string;
  partyId: string;
  roles: string[];
  decision?: 'approve' | 'reject';
  comment?: string;
  payload?: Record<string, unknown>;
}

/** A person's cancellation of a process. */
export interface CancelAct {
  kind: 'mandate.process-cancel.v1';
  processId: string;
  userId: string;
  partyId: string;
  reason: string;
}

/** A reassignment: who may complete a task from then on is a person's act too. */
export interface AssignmentAct {
  kind: 'mandate.task-assignment.v1';
  processId: string;
  taskId: string;
  assigneeUserId: string;
  userId: string;
  partyId: string;
}

/**
 * A client's own approval, signed by a key only the client holds (cli/sign.ts): the provider,
 * which runs the API, cannot make it. Its bytes are documented in README "Security model".
 */
export interface ApprovalAct {
  kind: 'mandate.approval.v1';
  processId: string;
  taskId: string;
  userId: string;
  decision: 'approve' | 'reject';
  comment?: string;
  payload?: Record<string, unknown>;
}

/** A contract version signed by a party's signatory (for the contract-signing process). */
export interface ContractSignatureAct {
  kind: 'mandate.contract-signature.v1';
  contractId: string;
  version: number;
  /** SHA-256 (hex) of the contract document's canonical JSON. */
  documentHash: string;
  userId: string;
  partyId: string;
  /** `approve` signs, `reject` declines: a decline's signature never passes for a signature. */
  decision: 'approve' | 'reject';
}

export type SignedAct = StartAct | CompletionAct | CancelAct | AssignmentAct | ApprovalAct | ContractSignatureAct;

/** The exact bytes signed: UTF-8 of the act's canonical JSON (undefined fields left out). */
export function actBytes(act: SignedAct): Uint8Array {
  const text = canonicalize(JSON.parse(JSON.stringify(act)));
  if (text === undefined) throw new Error('an act must be JSON');
  return new TextEncoder().encode(text);
}

/** Signs with a 32-byte Ed25519 secret key (hex). Used by the API and by a client's CLI. */
export function signAct(act: SignedAct, key: { id: string; secretKey: string }): Signature {
  return { keyId: key.id, signature: bytesToHex(ed25519.sign(actBytes(act), hexToBytes(key.secretKey))) };
}

export function publicKeyOf(secretKeyHex: string): string {
  return bytesToHex(ed25519.getPublicKey(hexToBytes(secretKeyHex)));
}

export type Verdict = { ok: true; keyId: string } | { ok: false; reason: string };

/** Checks `signature` over `act` with the key it names among `keys`; never throws. */
export function verifyAct(act: SignedAct, signature: Signature | undefined, keys: readonly PublicKey[]): Verdict {
  if (!signature || typeof signature !== 'object' || typeof signature.keyId !== 'string' || typeof signature.signature !== 'string') {
    return { ok: false, reason: `${act.kind} is not signed` };
  }
  const key = keys.find((k) => k.id === signature.keyId);
  if (!key) return { ok: false, reason: `${act.kind} is signed with unknown key "${signature.keyId.slice(0, 64)}"` };
  try {
    if (!/^[0-9a-f]{128}$/i.test(signature.signature)) return { ok: false, reason: `${act.kind}: malformed signature` };
    const valid = ed25519.verify(hexToBytes(signature.signature), actBytes(act), hexToBytes(key.publicKey), { zip215: false });
    return valid ? { ok: true, keyId: key.id } : { ok: false, reason: `${act.kind}: the signature does not match the act` };
  } catch {
    return { ok: false, reason: `${act.kind}: the signature cannot be checked` };
  }
}

/** True when `hex` is a 32-byte Ed25519 public key on the curve. */
export function isPublicKey(hex: string): boolean {
  if (!/^[0-9a-f]{64}$/i.test(hex)) return false;
  try {
    ed25519.Point.fromHex(hex.toLowerCase()).assertValidity();
    return true;
  } catch {
    return false;
  }
}

/**
 * The process a payload or act belongs to: a scheduled run's workflow id without the time
 * Temporal appends (`mandate:c:p:scheduled-2027-03-08T01:00:00Z` → `mandate:c:p:scheduled`),
 * since the schedule's action was signed and encrypted before that time was known.
 */
export function processBinding(workflowId: string): string {
  return workflowId.replace(/-\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/, '');
}

// ——— Payloads the codec could not verify ———

/** What the workflow sees instead of a payload not encrypted with this deployment's keys for this process. */
export interface Unverified {
  $mandate: 'unverified';
  reason: string;
}

export function isUnverified(value: unknown): value is Unverified {
  return typeof value === 'object' && value !== null && (value as { $mandate?: unknown }).$mandate === 'unverified';
}

// ——— Acts as the workflow receives them ———

export function startActOf(start: { contractId: string; version: number; processType: string; businessKey: string; requestedBy: { userId: string; partyId: string }; input: unknown; schedule?: unknown }, workflowId: string): StartAct {
  return {
    kind: 'mandate.process-start.v1',
    processId: processBinding(workflowId),
    contractId: start.contractId,
    version: start.version,
    processType: start.processType,
    businessKey: start.businessKey,
    requestedBy: { userId: start.requestedBy.userId, partyId: start.requestedBy.partyId },
    input: start.input ?? null,
    ...(start.schedule !== undefined && { schedule: start.schedule }),
  };
}

export function completionActOf(c: { taskId: string; userId: string; partyId: string; roles: string[]; decision?: 'approve' | 'reject'; comment?: string; payload?: Record<string, unknown> }, processId: string): CompletionAct {
  return {
    kind: 'mandate.task-completion.v1',
    processId,
    taskId: c.taskId,
    userId: c.userId,
    partyId: c.partyId,
    roles: c.roles,
    ...(c.decision !== undefined && { decision: c.decision }),
    ...(c.comment !== undefined && { comment: c.comment }),
    ...(c.payload !== undefined && { payload: c.payload }),
  };
}

export function approvalActOf(c: { taskId: string; userId: string; decision?: 'approve' | 'reject'; comment?: string; payload?: Record<string, unknown> }, processId: string): ApprovalAct {
  return {
    kind: 'mandate.approval.v1',
    processId,
    taskId: c.taskId,
    userId: c.userId,
    decision: c.decision ?? 'approve',
    ...(c.comment !== undefined && { comment: c.comment }),
    ...(c.payload !== undefined && { payload: c.payload }),
  };
}

export function assignmentActOf(a: { taskId: string; assigneeUserId: string; userId: string; partyId: string }, processId: string): AssignmentAct {
  return { kind: 'mandate.task-assignment.v1', processId, taskId: a.taskId, assigneeUserId: a.assigneeUserId, userId: a.userId, partyId: a.partyId };
}

export function cancelActOf(c: { userId: string; partyId: string; reason: string }, processId: string): CancelAct {
  return { kind: 'mandate.process-cancel.v1', processId, userId: c.userId, partyId: c.partyId, reason: c.reason };
}

/**
 * The rule for a client's own signatures: a party that registered signing keys (revoked ones
 * included: revoking every key does not turn the requirement off) signs each of its approvals
 * with an unrevoked key of the approving user. Returns undefined when the approval may go on.
 */
export function contractSignatureActOf(s: { contractId: string; version: number; documentHash: string; userId: string; partyId: string; decision?: 'approve' | 'reject' }): ContractSignatureAct {
  return { kind: 'mandate.contract-signature.v1', contractId: s.contractId, version: s.version, documentHash: s.documentHash, userId: s.userId, partyId: s.partyId, decision: s.decision ?? 'approve' };
}

export function partySignatureRefusal(keys: readonly PartySigningKey[] | undefined, approval: ApprovalAct | ContractSignatureAct, signature: Signature | undefined): string | undefined {
  if (!keys || keys.length === 0) return undefined;
  const usable = keys.filter((k) => !k.revoked && k.userId === approval.userId);
  if (!signature) return `party requires its approvals to be signed with its own key (clientSignature over ${approval.kind})`;
  const verdict = verifyAct(approval, signature, usable);
  return verdict.ok ? undefined : `client signature refused: ${verdict.reason}`;
}
