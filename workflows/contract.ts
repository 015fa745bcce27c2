// Mandate's own processes over a contract (docs/ARCHITECTURE.md "Contract signing"): a new
// contract or an amendment is a proposal until a signatory of the provider and one of the
// client sign it; a new contract then waits for the client's transition sign-off before it is
// active; notice of termination runs the exit, whose sign-off ends the contract. The rows that
// route these steps are Mandate's (domain/contract-proposal.ts), not the proposed document's.
import * as wf from '@temporalio/workflow';
import {
  CONTRACT_PROCESSES,
  EXIT_SIGNOFF,
  SIGN_CLIENT,
  SIGN_PROVIDER,
  SignatureCompletion,
  signingStatement,
  TRANSITION_SIGNOFF,
  type ExitInput,
  type ProposalInput,
} from '../domain/contract-proposal';
import type { ProcessActivities } from '../activities/processes';
import type { ProcessStart } from './definitions';
import { runProcess, type ProcessRun } from './process';
import { runStep, type StepResult } from './step';

const schedules = wf.proxyActivities<ProcessActivities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 8 },
});

/**
 * Schedules follow the version in force, once. A sync that keeps failing does not undo what both
 * parties signed: it is journaled, and the operators' schedule tools (or the next signed
 * version) bring Temporal in line.
 */
async function followSchedules(run: ProcessRun, sync: () => Promise<unknown>): Promise<void> {
  try {
    await sync();
  } catch (err) {
    if (wf.isCancellation(err)) throw err;
    run.note({ event: 'contract.schedules-not-synced', data: { reason: err instanceof Error ? err.message : String(err) } });
  }
}

export interface ContractProposalResult {
  outcome: 'signed' | 'declined' | 'lapsed';
  version: number;
  /** A new contract: true once the client signed the transition off. */
  active?: boolean;
  signatures: { party: string; userId: string; signature?: string }[];
}

/** A signatory's answer as the journal keeps it: who, and the signature when one was given. */
function signatureOf(run: ProcessRun, step: StepResult, side: 'provider' | 'client'): { party: string; userId: string; signature?: string } {
  const party = run.slice.parties.find((p) => p.kind === side)?.id ?? side;
  const given = SignatureCompletion.safeParse(step.output ?? {});
  const signature = given.success ? given.data.signature : undefined;
  return { party, userId: step.completedBy ?? '', ...(signature !== undefined && { signature }) };
}

export async function contractProposal(start: ProcessStart): Promise<ContractProposalResult> {
  return runProcess(start, CONTRACT_PROCESSES['contract-proposal'], async (run, input: ProposalInput) => {
    const { contractId, version } = run.start;
    const statement = signingStatement(contractId, version, input.documentSha256);
    const details = { contractId, version, kind: input.kind, documentSha256: input.documentSha256, statement };
    const signatures: ContractProposalResult['signatures'] = [];
    try {
      // The provider signs first, then the client countersigns: both, or nothing changes.
      for (const [stepKey, side] of [[SIGN_PROVIDER, 'provider'], [SIGN_CLIENT, 'client']] as const) {
        const signed = await runStep(run, stepKey, { title: `Sign ${contractId} version ${version} for the ${side}`, details, completion: SignatureCompletion, signature: true });
        if (signed.outcome !== 'done') {
          const outcome = signed.outcome === 'expired' ? 'lapsed' : 'declined';
          await run.attest(
            { stepKey, event: `contract.proposal-${outcome}`, partyId: run.slice.parties.find((p) => p.kind === side)?.id, data: { version, reason: signed.reason ?? null, signatures } },
            { contract: { contractId, decline: { version } } },
          );
          return { outcome, version, signatures };
        }
        signatures.push(signatureOf(run, signed, side));
      }
    } catch (err) {
      // A proposal cancelled before both signed is declined: it never becomes the version in force.
      if (wf.isCancellation(err)) {
        await wf.CancellationScope.nonCancellable(() => run.attest({ event: 'contract.proposal-withdrawn', data: { version, signatures } }, { contract: { contractId, decline: { version } } }));
      }
      throw err;
    }
    // Both signatures: this version is in force (running processes keep theirs); a new contract enters transition.
    await run.attest({ event: 'contract.signed', data: { version, kind: input.kind, statement, signatures } }, { contract: { contractId, adopt: { version } } });
    if (input.kind === 'amendment') {
      await followSchedules(run, () => schedules.syncContractSchedules({ contractId }));
      return { outcome: 'signed', version, signatures };
    }

    // Only the client's transition sign-off makes the contract active; a refusal is asked again.
    for (;;) {
      const signoff = await runStep(run, TRANSITION_SIGNOFF, { title: `Sign off the transition of ${contractId}: the service starts`, details, completion: SignatureCompletion, signature: true });
      if (signoff.outcome === 'done') {
        await run.attest(
          { stepKey: TRANSITION_SIGNOFF, event: 'contract.activated', partyId: run.slice.parties.find((p) => p.kind === 'client')?.id, data: { version, signoff: signatureOf(run, signoff, 'client') } },
          { contract: { contractId, status: { to: 'active', from: ['transition'] } } },
        );
        break;
      }
      run.note({ stepKey: TRANSITION_SIGNOFF, event: 'contract.transition-not-signed-off', data: { outcome: signoff.outcome, reason: signoff.reason ?? null } });
    }
    await followSchedules(run, () => schedules.syncContractSchedules({ contractId }));
    return { outcome: 'signed', version, active: true, signatures };
  });
}

export interface ContractExitResult {
  outcome: 'signed-off' | 'lapsed';
}

/** Notice given: the contract is in reversibility until the client signs the exit off (or the exit's hard deadline). */
export async function contractExit(start: ProcessStart): Promise<ContractExitResult> {
  return runProcess(start, CONTRACT_PROCESSES['contract-exit'], async (run, input: ExitInput) => {
    const { contractId } = run.start;
    const { userId, partyId } = run.start.requestedBy;
    await run.attest(
      { event: 'contract.notice-given', partyId, actor: `user:${userId}`, data: { reason: input.reason, noticeBy: input.noticeBy, reversibility: run.slice.reversibility ?? null } },
      { contract: { contractId, status: { to: 'reversibility', from: ['transition', 'active'] } } },
    );
    let outcome: ContractExitResult['outcome'] = 'lapsed';
    for (;;) {
      const signoff = await runStep(run, EXIT_SIGNOFF, { title: `Sign off the exit of ${contractId}: data returned, service handed over`, details: { contractId, reversibility: run.slice.reversibility ?? null }, completion: SignatureCompletion, signature: true });
      if (signoff.outcome === 'done') {
        outcome = 'signed-off';
        break;
      }
      if (signoff.outcome === 'expired') break;
      run.note({ stepKey: EXIT_SIGNOFF, event: 'contract.exit-not-signed-off', data: { outcome: signoff.outcome, reason: signoff.reason ?? null } });
    }
    await run.attest(
      { stepKey: EXIT_SIGNOFF, event: 'contract.terminated', data: { outcome, reason: input.reason, noticeBy: input.noticeBy } },
      { contract: { contractId, status: { to: 'terminated', from: ['reversibility'], termination: { by: userId, reason: input.reason } } } },
    );
    await followSchedules(run, () => schedules.deleteContractSchedules({ contractId }));
    return { outcome };
  });
}
