// A contract changes only when both parties sign (docs/ARCHITECTURE.md "Contract signing"):
// the processes of Mandate itself that carry a contract through its lifecycle, and the rows of
// the matrix that route them. Those rows are Mandate's, never the document's: whatever a
// proposed document says about `contract.*`, a signatory of the provider and one of the client
// sign, the client signs off the transition and the exit.
import { z } from 'zod';
import type { ProcessDefinition } from './catalogue';
import type { Responsibility, Row } from './responsibility';

export const SIGN_PROVIDER = 'contract.sign-provider';
export const SIGN_CLIENT = 'contract.sign-client';
export const TRANSITION_SIGNOFF = 'contract.transition-signoff';
export const EXIT_SIGNOFF = 'contract.exit-signoff';

/** How long a signatory has before lateness notices and escalation, and before the proposal lapses. */
export const SIGNING_TERMS = { due: 'P5D', hardDeadline: 'P30D' } as const;

/** The rows Mandate routes its own processes by, for a contract's provider and client. */
export function mandateRows(parties: { providerId: string; clientId: string }): Record<string, Row> {
  const { providerId: provider, clientId: client } = parties;
  return {
    [SIGN_PROVIDER]: { R: { party: provider, by: 'person' }, A: provider, I: [client], ...SIGNING_TERMS },
    [SIGN_CLIENT]: { R: { party: client, by: 'person' }, A: client, I: [provider], ...SIGNING_TERMS },
    // Months may pass: late notices and escalation, no hard deadline.
    [TRANSITION_SIGNOFF]: { R: { party: client, by: 'person' }, A: client, I: [provider], due: 'P90D' },
    // A client that never signs the exit off does not keep the contract alive: at the hard deadline it ends, journaled.
    [EXIT_SIGNOFF]: { R: { party: client, by: 'person' }, A: client, I: [provider], due: 'P30D', hardDeadline: 'P180D' },
  };
}

export function isMandateActivity(key: string): boolean {
  return key.startsWith('contract.');
}

/**
 * A slice with Mandate's rows in place of whatever the document wrote under `contract.*`
 * (only for the keys asked for). Pure: the slice reader applies it.
 */
export function withMandateRows<S extends { parties: readonly { id: string; kind: string }[]; responsibilities: Record<string, Responsibility> }>(slice: S, activityKeys: readonly string[]): S {
  const providerId = slice.parties.find((p) => p.kind === 'provider')?.id;
  const clientId = slice.parties.find((p) => p.kind === 'client')?.id;
  const wanted = activityKeys.filter(isMandateActivity);
  if (wanted.length === 0 || providerId === undefined || clientId === undefined) return slice;
  const rows = mandateRows({ providerId, clientId });
  const responsibilities = { ...slice.responsibilities };
  for (const key of Object.keys(responsibilities)) if (isMandateActivity(key)) delete responsibilities[key];
  for (const key of wanted) if (Object.hasOwn(rows, key)) responsibilities[key] = rows[key]!;
  return { ...slice, responsibilities };
}

const Sha256 = z.string().regex(/^[a-f0-9]{64}$/, 'expected a lower-case hex SHA-256');

/** What a signatory signs: the contract, the version and the exact document (canonical JSON, SHA-256). */
export function signingStatement(contractId: string, version: number, documentSha256: string): string {
  return `mandate:contract-sign:v1:${contractId}:${version}:${documentSha256}`;
}

export const ProposalInput = z.strictObject({
  /** A new contract enters transition once signed; an amendment becomes the version in force. */
  kind: z.enum(['new', 'amendment']),
  documentSha256: Sha256,
});
export type ProposalInput = z.infer<typeof ProposalInput>;

export const ExitInput = z.strictObject({
  /** Who gave notice (the process's requester) and why. */
  reason: z.string().min(1).max(2000),
  noticeBy: z.enum(['provider', 'client']),
});
export type ExitInput = z.infer<typeof ExitInput>;

/**
 * What a signatory submits with a sign task, besides `decision` (approve = sign, reject =
 * decline). `signature` is the seam for signatures the provider cannot forge (issue 12 point 3):
 * accepted and journaled now, to be required and verified against the party's registered
 * public keys over `signingStatement(...)`.
 */
export const SignatureCompletion = z.strictObject({
  signature: z.string().min(1).max(1024).optional(),
});
export type SignatureCompletion = z.infer<typeof SignatureCompletion>;

/** Mandate's own processes: not in the catalogue, so no contract covers them and no API start reaches them. */
export const CONTRACT_PROCESSES = {
  'contract-proposal': {
    key: 'contract-proposal',
    title: 'Contract proposal (signature by both parties)',
    services: [],
    activityKeys: [SIGN_PROVIDER, SIGN_CLIENT, TRANSITION_SIGNOFF],
    starts: [],
    input: ProposalInput,
  },
  'contract-exit': {
    key: 'contract-exit',
    title: 'Contract exit (reversibility)',
    services: [],
    activityKeys: [EXIT_SIGNOFF],
    starts: [],
    input: ExitInput,
  },
} as const satisfies Record<string, ProcessDefinition>;
