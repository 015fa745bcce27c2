// R's own agent does the step (docs/ARCHITECTURE.md "Agents"): the job is offered through the
// API; the agent's pickup is a signal raced against the pickup deadline (late: R and A are told,
// then R's escalation levels follow); after pickup the engine activity waits for the result
// with the agent's heartbeats relayed by the API. An agent that goes silent is noticed at its
// heartbeat timeout and the job is offered again, as long as the hard deadline allows: never
// a silent hang, never a step failed only because an agent was down for a while.
import * as wf from '@temporalio/workflow';
import type { ResolvedStep } from '../domain/raci';
import { deadlineMs } from '../domain/deadline';
import type { AgentJobOffer, EngineActivities } from '../activities/engine';
import type { ProcessRun } from './kernel/run';
import { nowMs } from './kernel/time';
import { effectKeyOf, failureReason, waitWithEscalation, type Deadlines, type StepResult, type StepSpec } from './step-common';

const DEFAULT_PICKUP = 'PT5M';
const DEFAULT_HEARTBEAT = 'PT1M';
/** An agent that reports a retryable failure gets the job again at most this many times. */
const RETRYABLE_FAILURES = 4;

export async function executeByAgent(run: ProcessRun, step: ResolvedStep, spec: StepSpec, deadlines: Deadlines): Promise<Omit<StepResult, 'consulted'>> {
  return run.journal.isDurable ? executeByAgentDurable(run, step, spec, deadlines) : executeByAgentLegacy(run, step, spec, deadlines);
}

function offerOf(run: ProcessRun, step: ResolvedStep, spec: StepSpec, pickupMs: number): AgentJobOffer {
  return {
    id: `job_${wf.uuid4()}`,
    processId: run.processId,
    stepKey: step.activityKey,
    partyId: step.responsible.party,
    action: step.responsible.action ?? '',
    params: spec.params ?? {},
    idempotencyKey: effectKeyOf(run, step, spec),
    pickupDeadlineAt: new Date(nowMs() + pickupMs).toISOString(),
  };
}

async function executeByAgentDurable(run: ProcessRun, step: ResolvedStep, spec: StepSpec, { hardAt }: Deadlines): Promise<Omit<StepResult, 'consulted'>> {
  const r = step.responsible;
  const pickupMs = deadlineMs(step.options.pickupWithin ?? DEFAULT_PICKUP);
  const job = offerOf(run, step, spec, pickupMs);
  // The workflow decides each re-offer, so a silent agent is a timeout here, not a retry budget spent.
  const agent = wf.proxyActivities<EngineActivities>({
    heartbeatTimeout: deadlineMs(step.options.heartbeatWithin ?? DEFAULT_HEARTBEAT),
    startToCloseTimeout: hardAt === undefined ? '7 days' : Math.max(1000, hardAt - nowMs()),
    retry: { maximumAttempts: 1 },
  });
  run.jobs.offered(job.id);
  await run.journal.write({ offerJobs: [job], process: { currentStep: step.activityKey } });
  let failures = 0;
  for (let round = 0; ; round++) {
    run.holdBy(r.party);
    const about = { holder: r.party, jobId: job.id, ...(round > 0 && { round }) };
    const pickedUp = await waitWithEscalation(run, step, () => run.jobs.isTaken(job.id), { dueAt: nowMs() + pickupMs, hardAt }, about, { event: 'agent.not-picked-up', notify: [r.party, step.accountable] });
    if (!pickedUp) return giveUp(run, step, job.id, 'expired', 'no agent took the job by the hard deadline');
    run.note({ stepKey: step.activityKey, event: 'agent.picked-up', partyId: r.party, actor: `agent:${run.jobs.agentOf(job.id)}`, clause: step.clause, data: { jobId: job.id, ...(round > 0 && { round }) } });
    const carried = run.journal.carry();
    try {
      const output = await agent.awaitAgentResult({ jobId: job.id, record: carried });
      run.holdBy(run.providerId);
      // The agent that took the job last (another one may have taken it over after a crash).
      const agentId = run.jobs.agentOf(job.id);
      run.jobs.done(job.id);
      run.note({ stepKey: step.activityKey, event: 'step.executed', partyId: r.party, actor: `agent:${agentId}`, clause: step.clause, data: { jobId: job.id, output } });
      return { outcome: 'done', output };
    } catch (err) {
      if (carried) run.journal.restore(carried);
      if (wf.isCancellation(err)) throw err;
      const silent = err instanceof wf.ActivityFailure && err.cause instanceof wf.TimeoutFailure;
      const retryable = err instanceof wf.ActivityFailure && err.cause instanceof wf.ApplicationFailure && err.cause.type === 'AgentActionFailed' && !err.cause.nonRetryable;
      if (retryable) failures++;
      const late = hardAt !== undefined && nowMs() >= hardAt;
      if ((!silent && !retryable) || failures > RETRYABLE_FAILURES || late) {
        run.holdBy(run.providerId);
        return giveUp(run, step, job.id, 'failed', late && silent ? 'the agent went silent and the hard deadline passed' : failureReason(err));
      }
      // Offered again to any agent of R's party; the action's idempotency key stays, so it never acts twice.
      run.jobs.offered(job.id);
      const event = silent ? 'agent.silent' : 'agent.retrying';
      run.note({ stepKey: step.activityKey, event, partyId: r.party, clause: step.clause, data: { jobId: job.id, round: round + 1, reason: failureReason(err) } });
      await run.journal.write({ reofferJobs: [job.id] });
    }
  }
}

async function giveUp(run: ProcessRun, step: ResolvedStep, jobId: string, outcome: 'expired' | 'failed', reason: string): Promise<Omit<StepResult, 'consulted'>> {
  run.holdBy(run.providerId);
  run.jobs.done(jobId);
  run.note({ stepKey: step.activityKey, event: 'step.failed', partyId: step.responsible.party, clause: step.clause, data: { jobId, reason } });
  await run.journal.write({ withdrawJobs: [jobId] });
  return { outcome, reason };
}

/** Runs recorded before the workflow decided re-offers: Temporal's retries did, five at most. */
async function executeByAgentLegacy(run: ProcessRun, step: ResolvedStep, spec: StepSpec, { hardAt }: Deadlines): Promise<Omit<StepResult, 'consulted'>> {
  const r = step.responsible;
  const pickupMs = deadlineMs(step.options.pickupWithin ?? DEFAULT_PICKUP);
  const job = offerOf(run, step, spec, pickupMs);
  run.jobs.offered(job.id);
  const taken = () => run.jobs.isTaken(job.id);
  await run.journal.write({ offerJobs: [job], process: { currentStep: step.activityKey } });
  run.holdBy(r.party);
  const pickedUp = await waitWithEscalation(run, step, taken, { dueAt: nowMs() + pickupMs, hardAt }, { holder: r.party, jobId: job.id }, { event: 'agent.not-picked-up', notify: [r.party, step.accountable] });
  if (!pickedUp) {
    run.holdBy(run.providerId);
    run.jobs.done(job.id);
    run.note({ stepKey: step.activityKey, event: 'step.failed', partyId: r.party, clause: step.clause, data: { reason: 'no agent took the job by the hard deadline', jobId: job.id } });
    await run.journal.write({ withdrawJobs: [job.id] });
    return { outcome: 'expired', reason: 'no agent took the job by the hard deadline' };
  }
  run.note({ stepKey: step.activityKey, event: 'agent.picked-up', partyId: r.party, actor: `agent:${run.jobs.agentOf(job.id)}`, clause: step.clause, data: { jobId: job.id } });
  const agent = wf.proxyActivities<EngineActivities>({
    heartbeatTimeout: deadlineMs(step.options.heartbeatWithin ?? DEFAULT_HEARTBEAT),
    startToCloseTimeout: hardAt === undefined ? '7 days' : Math.max(1000, hardAt - nowMs()),
    retry: { initialInterval: '1s', maximumInterval: '30s', maximumAttempts: 5 },
  });
  try {
    const carried = run.journal.carry();
    const output = await agent.awaitAgentResult({ jobId: job.id, record: carried }).catch((err: unknown) => {
      if (carried) run.journal.restore(carried);
      throw err;
    });
    run.holdBy(run.providerId);
    const agentId = run.jobs.agentOf(job.id);
    run.jobs.done(job.id);
    run.note({ stepKey: step.activityKey, event: 'step.executed', partyId: r.party, actor: `agent:${agentId}`, clause: step.clause, data: { jobId: job.id, output } });
    return { outcome: 'done', output };
  } catch (err) {
    if (wf.isCancellation(err)) throw err;
    run.holdBy(run.providerId);
    const reason = failureReason(err);
    run.jobs.done(job.id);
    run.note({ stepKey: step.activityKey, event: 'step.failed', partyId: r.party, clause: step.clause, data: { jobId: job.id, reason } });
    await run.journal.write({ withdrawJobs: [job.id] });
    return { outcome: 'failed', reason };
  }
}
