// Engine activities: the I/O a process needs, done on the engine side. Workflows import
// the types only; the worker builds the implementation with its dependencies.
import { ApplicationFailure, CompleteAsyncError, Context } from '@temporalio/activity';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Schema } from '../db/schema';
import { applyContractChange, getContract, type ContractChange } from '../db/contracts';
import { getParsedContractVersion } from '../db/contract-cache';
import { appendJournal } from '../db/journal';
import { openTasks, settleTask } from '../db/tasks';
import { enqueueOutbox } from '../db/outbox';
import { recordProcessState, registerProcess } from '../db/processes';
import { attachJobAttempt, finishedAgentJobs, offerAgentJobs, reofferAgentJobs, withdrawAgentJobs, type AgentJobInput } from '../db/agent-jobs';
import { isTransientDbError, toActivityFailure } from '../db/errors';
import { recordSla, type SlaRecordInput } from '../db/sla-records';
import { getRunbook } from '../db/runbooks';
import { journalHead, partiesOfProcess, signingKeysOf } from '../db/signing-keys';
import type { PublicKey, Signers } from '../domain/signatures';
import { sliceContract, type ContractSlice } from '../domain/raci';
import { withMandateRows } from '../domain/contract-proposal';
import type { ActionsConfig } from '../domain/actions';
import { runAction, unknownActionFailure } from './action-runner';
import { crashPoint } from '../worker/crash-points';

export type { SlaRecordInput };

export interface JournalInput {
  seq: number;
  at: string;
  stepKey?: string;
  event: string;
  partyId?: string;
  actor?: string;
  clause?: string;
  data: Record<string, unknown>;
}

export interface TaskOpening {
  id: string;
  processId: string;
  stepKey: string;
  kind: 'execute' | 'approve' | 'consult' | 'escalation' | 'sign';
  partyId: string;
  team?: string;
  requestedBy: string;
  title: string;
  payload: Record<string, unknown>;
  dueAt?: string;
  hardDeadlineAt?: string;
}

export interface OutboxInput {
  effectKey: string;
  partyId: string;
  event: string;
  payload: Record<string, unknown>;
}

/** A job offered to the agents of R's party: workflows name it from here, never from db/. */
export type AgentJobOffer = AgentJobInput;

/** Everything one transition of a process writes, in one transaction. */
export interface StepRecord {
  processId: string;
  entries: JournalInput[];
  openTasks?: TaskOpening[];
  settleTasks?: { taskId: string; status: 'done' | 'expired' | 'cancelled'; completedBy?: string; at: string }[];
  outbox?: OutboxInput[];
  offerJobs?: AgentJobOffer[];
  slaRecords?: SlaRecordInput[];
  /** Jobs no step waits for any more (hard deadline passed, process ended). */
  withdrawJobs?: string[];
  /** Jobs offered again: their agent went silent or reported a retryable failure. */
  reofferJobs?: string[];
  process?: { status?: 'running' | 'completed' | 'failed' | 'cancelled'; currentStep?: string | null; endedAt?: string };
  /** Mandate's contract processes: a version signed or declined, a lifecycle step (db/contracts.ts). */
  contract?: ContractChange;
}

/**
 * At the end of a process, the head of its journal chain goes to every party holding a role in
 * it (docs/ARCHITECTURE.md "Trust boundaries"): each keeps a witness the provider cannot rewrite.
 */
async function enqueueWitnesses(db: Kysely<Schema>, processId: string, status: string): Promise<void> {
  const head = await journalHead(db, processId);
  if (!head) return;
  const parties = await partiesOfProcess(db, processId);
  await enqueueOutbox(
    db,
    parties.map((partyId) => ({ effectKey: `${processId}:journal.head:${partyId}`, partyId, event: 'process.journal-head', payload: { ...head, status } })),
  );
}

export interface EngineActivityDeps {
  db: Kysely<Schema>;
  actions: ActionsConfig;
  actionsDir: string;
  log: Logger;
  /** The deployment's public signing keys (temporal/signing.ts); none: signatures are not checked (tests). */
  signingKeys?: PublicKey[];
  /** Signals a process that an agent took one of its jobs (the worker's client; absent: never told). */
  tellPickup?: (processId: string, pickup: { jobId: string; agentId: string }) => Promise<void>;
}

export function createEngineActivities({ db, actions, actionsDir, log, signingKeys = [], tellPickup }: EngineActivityDeps) {
  /** Writes one transition batch; every part is idempotent, so a retried write changes nothing. */
  async function recordStep(record: StepRecord): Promise<void> {
    if (isEmpty(record)) return;
    // A value the database refuses fails the write for good (DataRejected); an outage is retried.
    await writeRecord(record).catch((err: unknown) => {
      throw toActivityFailure(err);
    });
  }

  /**
   * The record an engine or agent activity carries is written before it acts. An outage of the
   * database is waited out here, heartbeating, so it never spends the action's own attempts (a
   * step must not fail because PostgreSQL was away for a minute); a data error fails for good.
   */
  async function recordCarried(record: StepRecord): Promise<void> {
    const context = Context.current();
    for (let delayMs = 200; ; delayMs = Math.min(delayMs * 2, 5_000)) {
      try {
        return await recordStep(record);
      } catch (err) {
        if (!isTransientDbError(err) || context.cancellationSignal.aborted) throw err;
        log.warn({ err: err instanceof Error ? err.message : String(err), processId: record.processId }, 'database unreachable: the step record waits for it');
        context.heartbeat();
        await context.sleep(delayMs);
      }
    }
  }

  async function writeRecord(record: StepRecord): Promise<void> {
    const finished = await db.transaction().execute(async (trx) => {
      if (record.entries.length > 0) await appendJournal(trx, record.processId, record.entries);
      if (record.openTasks?.length) await openTasks(trx, record.openTasks);
      for (const s of record.settleTasks ?? []) await settleTask(trx, s.taskId, { status: s.status, completedBy: s.completedBy, at: s.at });
      if (record.outbox?.length) await enqueueOutbox(trx, record.outbox);
      if (record.offerJobs?.length) await offerAgentJobs(trx, record.offerJobs);
      if (record.slaRecords?.length) await recordSla(trx, record.slaRecords);
      if (record.withdrawJobs?.length) await withdrawAgentJobs(trx, record.withdrawJobs);
      if (record.reofferJobs?.length) await reofferAgentJobs(trx, record.reofferJobs);
      if (record.process) await recordProcessState(trx, record.processId, record.process);
      if (record.contract) await applyContractChange(trx, record.contract);
      if (record.process?.status && record.process.status !== 'running') await enqueueWitnesses(trx, record.processId, record.process.status);
      return record.reofferJobs?.length ? finishedAgentJobs(trx, record.reofferJobs) : [];
    });
    crashPoint('record.committed');
    // A result recorded while no wait was attached (the attempt's worker died before it attached,
    // the agent finished before the attempt timed out) stays recorded: offering the job again
    // changes nothing and no agent will take it, so the next round's pickup is told here, and
    // its wait returns the result (docs/ARCHITECTURE.md "Agents").
    for (const job of finished) {
      if (!tellPickup || !job.agent_id) continue;
      log.warn({ jobId: job.id, processId: record.processId, status: job.status }, 'agent job offered again after its result was recorded: the process is told of the pickup');
      await tellPickup(record.processId, { jobId: job.id, agentId: job.agent_id });
    }
  }

  return {
    /** The part of an immutable contract version a process needs: never pricing. */
    async loadContractSlice(input: { contractId: string; version: number; activityKeys: string[] }): Promise<ContractSlice> {
      const contract = await getParsedContractVersion(db, input.contractId, input.version);
      if (!contract) throw ApplicationFailure.nonRetryable(`contract ${input.contractId} v${input.version} not found`, 'ContractNotFound');
      // Mandate's own processes route by Mandate's rows, never by what the document says of them.
      return withMandateRows(sliceContract(contract, input.activityKeys), input.activityKeys);
    },

    recordStep,

    /**
     * What a run verifies signed acts against (a read): the deployment's public keys and the
     * keys each party of the contract registered for its users.
     */
    async loadSigners(input: { contractId: string }): Promise<Signers> {
      const parties = await db.selectFrom('contract_parties').select('party_id').where('contract_id', '=', input.contractId).execute();
      return { deployment: signingKeys, parties: await signingKeysOf(db, parties.map((p) => p.party_id)) };
    },

    /** A run that names a runbook without its definition (a schedule's) pins the version in force now. */
    async pinRunbook(input: { runbook: string; version?: number }): Promise<{ version: number; definition: unknown } | null> {
      const row = await getRunbook(db, input.runbook, input.version);
      return row ? { version: row.version, definition: row.definition } : null;
    },

    /**
     * A scheduled run registers itself: the contract version in force now, and the
     * database's unique business key, so a day or period runs once however often it fires.
     */
    async registerScheduledRun(input: { processId: string; contractId: string; processType: string; businessKey: string; requestedBy: { userId: string; partyId: string } }): Promise<{ registered: boolean; contractVersion: number; reason?: string }> {
      const contract = await getContract(db, input.contractId);
      if (!contract) return { registered: false, contractVersion: 0, reason: `contract ${input.contractId} does not exist` };
      if (contract.status !== 'active') return { registered: false, contractVersion: contract.current_version, reason: `contract ${input.contractId} is ${contract.status}` };
      const { process } = await registerProcess(db, {
        id: input.processId,
        contractId: input.contractId,
        contractVersion: contract.current_version,
        processType: input.processType,
        businessKey: input.businessKey,
        requestedBy: input.requestedBy.userId,
        requestedByParty: input.requestedBy.partyId,
      });
      if (process.id !== input.processId) return { registered: false, contractVersion: process.contract_version, reason: `${input.businessKey} already ran as ${process.id}` };
      return { registered: true, contractVersion: process.contract_version };
    },

    /**
     * Waits for the result of an agent job without holding a worker slot: records this
     * attempt's task token and completes asynchronously (the API completes it with the
     * token when the agent posts its result). A result that arrived before this attempt
     * started is returned at once. A retry means the agent went silent: the job is offered again.
     */
    async awaitAgentResult(input: { jobId: string; record?: StepRecord }): Promise<unknown> {
      if (input.record) await recordCarried(input.record);
      const info = Context.current().info;
      const job = await attachJobAttempt(db, input.jobId, { taskToken: Buffer.from(info.taskToken).toString('base64'), attempt: info.attempt });
      if (!job) throw ApplicationFailure.nonRetryable(`agent job ${input.jobId} does not exist`, 'AgentJobMissing');
      if (job.status === 'succeeded') return job.output;
      if (job.status === 'failed') {
        throw ApplicationFailure.create({ message: job.reason ?? 'the agent reported a failure', type: 'AgentActionFailed', nonRetryable: !job.retryable });
      }
      if (job.status === 'withdrawn') throw ApplicationFailure.nonRetryable(`agent job ${input.jobId} was withdrawn`, 'AgentJobWithdrawn');
      throw new CompleteAsyncError();
    },

    /**
     * Runs an action of the engine's own configuration; never a command from the contract.
     * First writes the record earlier steps left, so a step costs no write of its own.
     */
    async runEngineAction(input: { action: string; params: Record<string, unknown>; idempotencyKey: string; record?: StepRecord }): Promise<unknown> {
      if (input.record) await recordCarried(input.record);
      const def = actions[input.action];
      if (!def) {
        const failure = unknownActionFailure(input.action);
        throw ApplicationFailure.nonRetryable(failure.reason, 'UnknownAction');
      }
      // Heartbeats tell Temporal this worker is alive: a worker killed mid-action is noticed within
      // the heartbeat timeout and the action retried elsewhere under the same idempotency key.
      const context = Context.current();
      const beat = setInterval(() => context.heartbeat(), HEARTBEAT_EVERY_MS);
      const result = await runAction(input.action, def, input.params, { idempotencyKey: input.idempotencyKey, log, configDir: actionsDir, signal: context.cancellationSignal }).finally(() => clearInterval(beat));
      if (result.ok) return result.output;
      if (result.retryable) throw ApplicationFailure.retryable(result.reason, 'ActionFailed');
      throw ApplicationFailure.nonRetryable(result.reason, 'ActionRejected');
    },
  };
}

export type EngineActivities = ReturnType<typeof createEngineActivities>;

/** Well inside the workflow's 30 s heartbeat timeout for engine actions (workflows/step.ts). */
const HEARTBEAT_EVERY_MS = 5_000;

function isEmpty(r: StepRecord): boolean {
  return r.entries.length === 0 && !r.openTasks?.length && !r.settleTasks?.length && !r.outbox?.length && !r.offerJobs?.length && !r.withdrawJobs?.length && !r.reofferJobs?.length && !r.slaRecords?.length && !r.process && !r.contract;
}
