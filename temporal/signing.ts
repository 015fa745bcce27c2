// The deployment's signing key (docs/ARCHITECTURE.md "Trust boundaries"): acts that carry a
// person's identity — process starts (requestedBy decides four-eyes), task completions,
// reassignments and cancellations — are signed by the API over who, what and which process or task, and the
// workflow verifies them against the public keys a local activity reads. The secret stays in
// the API's and the worker's configuration, never in the workflow bundle or a history.
import { randomBytes } from 'node:crypto';
import type { Client, WorkflowClientInterceptor } from '@temporalio/client';
import { ValueError } from '@temporalio/common';
import { assignmentActOf, cancelActOf, completionActOf, publicKeyOf, signAct, startActOf, type PublicKey, type Signature, type SignedAct } from '../domain/signatures';
import type { CancelRequest, ProcessStart, TaskAssignment, TaskCompletion } from '../workflows/definitions';

export interface SigningKey {
  id: string;
  /** 32-byte Ed25519 secret key, hex. */
  secretKey: string;
}

/** Parses "kid:hex,kid2:hex" (32-byte Ed25519 secret keys); the first signs, all verify. */
export function parseSigningKeys(spec: string): SigningKey[] {
  const keys = spec.split(',').map((part) => part.trim()).filter(Boolean).map((part) => {
    const sep = part.indexOf(':');
    if (sep <= 0) throw new ValueError(`signing key "${part.slice(0, 8)}…" must be "<id>:<hex secret key>"`);
    const id = part.slice(0, sep);
    const secretKey = part.slice(sep + 1).toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(secretKey)) throw new ValueError(`signing key "${id}" must be 32 bytes in hex`);
    return { id, secretKey };
  });
  if (keys.length === 0) throw new ValueError('no signing key given');
  if (new Set(keys.map((k) => k.id)).size !== keys.length) throw new ValueError('signing key ids must be unique');
  return keys;
}

export function newSigningKeySpec(id = `s${Date.now().toString(36)}`): string {
  return `${id}:${randomBytes(32).toString('hex')}`;
}

export class ActSigner {
  readonly publicKeys: PublicKey[];
  private readonly active: SigningKey;

  constructor(keys: SigningKey[]) {
    const [active] = keys;
    if (!active) throw new ValueError('ActSigner needs at least one key');
    this.active = active;
    this.publicKeys = keys.map((k) => ({ id: k.id, publicKey: publicKeyOf(k.secretKey) }));
  }

  sign(act: SignedAct): Signature {
    return signAct(act, this.active);
  }

  /** A start with its attestation, for the process `workflowId` (a schedule's: unsuffixed). */
  signStart<S extends ProcessStart>(start: S, workflowId: string): S {
    return { ...start, attestation: this.sign(startActOf(start, workflowId)) };
  }
}

const isStart = (v: unknown): v is ProcessStart =>
  typeof v === 'object' && v !== null && typeof (v as ProcessStart).contractId === 'string' && typeof (v as ProcessStart).processType === 'string' && typeof (v as ProcessStart).requestedBy === 'object';

/**
 * Signs on the way out, whatever path a start, completion or cancellation takes through this
 * client (the API's routes, reconcilers redelivering, the engine opening an incident). A
 * start that continues as new is never signed here: the kernel carries the first one's.
 */
export function signingInterceptor(signer: ActSigner): WorkflowClientInterceptor {
  return {
    async startWithDetails(input, next) {
      const [start, ...rest] = input.options.args;
      if (!isStart(start) || start.resume) return next(input);
      return next({ ...input, options: { ...input.options, args: [signer.signStart(start, input.options.workflowId), ...rest] } });
    },
    async signalWithStart(input, next) {
      const [start, ...rest] = input.options.args;
      if (!isStart(start)) return next(input);
      return next({ ...input, options: { ...input.options, args: [signer.signStart(start, input.options.workflowId), ...rest] } });
    },
    async startUpdate(input, next) {
      if (input.updateName === 'assignTask') {
        const [assignment] = input.args as [TaskAssignment];
        const attestation = signer.sign(assignmentActOf(assignment, input.workflowExecution.workflowId));
        return next({ ...input, args: [{ ...assignment, attestation }] });
      }
      if (input.updateName !== 'completeTask') return next(input);
      const [completion] = input.args as [TaskCompletion];
      const attestation = signer.sign(completionActOf(completion, input.workflowExecution.workflowId));
      return next({ ...input, args: [{ ...completion, attestation }] });
    },
    async signal(input, next) {
      if (input.signalName !== 'cancelProcess') return next(input);
      const [request] = input.args as [CancelRequest];
      const attestation = signer.sign(cancelActOf(request, input.workflowExecution.workflowId));
      return next({ ...input, args: [{ ...request, attestation }] });
    },
  };
}

const signers = new WeakMap<Client, ActSigner>();

/** Remembers the signer of a client, for what it sends without an interceptor (a schedule's action). */
export function attachSigner(client: Client, signer: ActSigner | undefined): Client {
  if (signer) signers.set(client, signer);
  return client;
}

export function signerOf(client: Client): ActSigner | undefined {
  return signers.get(client);
}
