// What a run accepts from outside (docs/ARCHITECTURE.md "Trust boundaries"): only what this
// deployment encrypted for this process (the codec turns anything else into an `Unverified`
// marker), and acts carrying a person's identity only with the deployment's signature over
// them. Public keys are read by a local activity at start; no secret is in the bundle.
import * as wf from '@temporalio/workflow';
import { cancelActOf, isUnverified, startActOf, verifyAct, type Signers } from '../domain/signatures';
import type { CancelRequest, ProcessStart } from './definitions';
import type { ProcessRun } from './kernel/run';
import { signerReader } from './kernel/readers';

/** Runs recorded before signed acts read no keys at start and check no signature. */
export const PATCH_SIGNED_ACTS = 'signed-acts';


/** Security events journaled per run at most: a flood of forged signals is counted, not journaled forever. */
const SECURITY_EVENTS_JOURNALED = 20;
let securityEvents = 0;

function countRefused(kind: string, reason: string): void {
  wf.metricMeter.createCounter('mandate_refused_acts', 'acts', 'Acts a workflow refused: unverified payloads and bad signatures').add(1, { kind, reason: reason.split(':')[0] ?? reason });
}

/**
 * Admits a run's start, before it registers or reads anything: refused (the workflow fails,
 * nothing is written) when the codec could not verify it, when it carries a `resume` that
 * did not come from the kernel's continue-as-new, or when its signature does not cover who
 * asked for what in this process. Returns the keys later acts are checked with.
 */
export async function admitStart(given: ProcessStart): Promise<Signers | undefined> {
  if (isUnverified(given)) {
    countRefused('start', given.reason);
    throw wf.ApplicationFailure.nonRetryable(`start refused: its input was not encrypted by this deployment for this process (${given.reason})`, 'UnverifiedStart');
  }
  if (!wf.patched(PATCH_SIGNED_ACTS)) return undefined;
  const info = wf.workflowInfo();
  const continued = info.continuedFromExecutionRunId !== undefined;
  if (given.resume && !continued) {
    countRefused('start', 'forged-resume');
    throw wf.ApplicationFailure.nonRetryable('start refused: only the kernel continuing a run carries `resume`', 'UnverifiedStart');
  }
  const signers = await signerReader.loadSigners({ contractId: given.contractId });
  // A continued run carries the first run's start (its business key set by then): signed at the first.
  if (!continued && signers.deployment.length > 0) {
    const verdict = verifyAct(startActOf(given, info.workflowId), given.attestation, signers.deployment);
    if (!verdict.ok) {
      countRefused('start', verdict.reason);
      throw wf.ApplicationFailure.nonRetryable(`start refused: ${verdict.reason}`, 'UnverifiedStart');
    }
  }
  return signers;
}

/** A signal the run drops: journaled as a security event (the first few), counted always. */
export function refuseSignal(run: ProcessRun, signal: string, reason: string): void {
  countRefused(`signal:${signal}`, reason);
  if (++securityEvents > SECURITY_EVENTS_JOURNALED) return;
  run.attestSoon({ event: 'security.signal-refused', actor: 'engine', data: { signal, reason } });
}

/** True when the signal's argument came from this deployment for this process; otherwise refuses it. */
export function admitSignal(run: ProcessRun, signal: string, arg: unknown): boolean {
  if (!isUnverified(arg)) return true;
  refuseSignal(run, signal, `not encrypted by this deployment for this process (${arg.reason})`);
  return false;
}

/** A cancellation names who cancels: admitted only with the deployment's signature over it. */
export function admitCancel(run: ProcessRun, signers: Signers | undefined, request: CancelRequest): boolean {
  if (!admitSignal(run, 'cancelProcess', request)) return false;
  if (!signers || signers.deployment.length === 0) return true;
  const verdict = verifyAct(cancelActOf(request, run.processId), request.attestation, signers.deployment);
  if (verdict.ok) return true;
  refuseSignal(run, 'cancelProcess', verdict.reason);
  return false;
}
