// Every signal, query and update of Mandate's processes, declared once and imported by
// both the workflows and the API, so names and payload types cannot drift apart.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ProcessCarry } from './kernel/run';
import type { Signature } from '../domain/signatures';

/** What every process starts with (docs/ARCHITECTURE.md "Contract → process"). */
export interface ProcessStart<I = unknown> {
  contractId: string;
  version: number;
  processType: string;
  /** Empty for a scheduled run: the run derives it from its scheduled time. */
  businessKey: string;
  requestedBy: { userId: string; partyId: string };
  input: I;
  /** Set by the contract's Temporal Schedule (domain/schedules.ts scheduledStartOf). */
  schedule?: { id: string; name: string; timezone: string; keyBy: 'period' | 'day' | 'time' };
  /** Set only by the kernel when a run continues as new: where the previous run stood. */
  resume?: ProcessCarry;
  /** The deployment's signature over who asked for what (temporal/signing.ts); checked at start. */
  attestation?: Signature;
}

/** Sent by the API on behalf of a user, after it claimed the task row. */
export interface TaskCompletion {
  taskId: string;
  userId: string;
  partyId: string;
  roles: string[];
  /** approve tasks: the decision; execute and consult tasks: omitted. */
  decision?: 'approve' | 'reject';
  comment?: string;
  payload?: Record<string, unknown>;
  /** The deployment's signature over the whole completion (temporal/signing.ts); checked by the validator. */
  attestation?: Signature;
  /** The person's own signature over the approval (domain/signatures.ts ApprovalAct), made with a key its party registered. */
  clientSignature?: Signature;
}

export interface TaskCompleted {
  taskId: string;
  status: 'done';
  completedBy: string;
  at: string;
}

export type StepOutcome = 'done' | 'rejected' | 'expired' | 'failed' | 'skipped';

export interface StepState {
  stepKey: string;
  clause: string;
  responsibleParty: string;
  phase: 'consulting' | 'approving' | 'executing' | 'informing' | 'finished';
  outcome?: StepOutcome;
  startedAt: string;
  dueAt?: string;
  hardDeadlineAt?: string;
  openTaskIds: string[];
}

/** An SLA clock as queries show it; the API derives elapsed time from it. */
export interface SlaClockView {
  name: string;
  /** The contract calendar it counts in (absent: the contract's default business calendar). */
  calendar?: string;
  clause: string;
  target: string;
  targetMs: number;
  startedAt: string;
  accumulatedMs: number;
  runningSince?: string;
  pausedSince?: string;
  pauseReason?: string;
  deadlineAt?: string;
  breachedAt?: string;
  stoppedAt?: string;
}

export interface ProcessState {
  processId: string;
  processType: string;
  contractId: string;
  contractVersion: number;
  status: 'running' | 'completed' | 'failed' | 'cancelled';
  currentStep?: StepState;
  steps: { stepKey: string; outcome: StepOutcome; at: string }[];
  sla?: SlaClockView;
}

export const completeTaskUpdate = defineUpdate<TaskCompleted, [TaskCompletion]>('completeTask');

/**
 * Sent by the API when a person of the task's party assigns it to one of its users (the API
 * checked the assigner's and the assignee's roles); the run journals it and, from then on,
 * accepts the task's completion from that user only (docs/ARCHITECTURE.md "Human tasks").
 */
export interface TaskAssignment {
  taskId: string;
  /** The user the task is assigned to, of the task's party. */
  assigneeUserId: string;
  /** Who assigns it, of the same party. */
  userId: string;
  partyId: string;
  /** The API's signature over the act (temporal/signing.ts). */
  attestation?: Signature;
}
export interface TaskAssigned {
  taskId: string;
  assigneeUserId: string;
  at: string;
}
export const assignTaskUpdate = defineUpdate<TaskAssigned, [TaskAssignment]>('assignTask');

/** The fields a refused completion names (`ApplicationFailure.details[0]` of a `CompletionRefused`). */
export interface CompletionRefusalDetails {
  fields: { path: string; message: string }[];
}
export const processStateQuery = defineQuery<ProcessState>('processState');

/** Sent by the API when an agent of R's party takes the job (it may be taken again after a crash). */
export interface AgentPickup {
  jobId: string;
  agentId: string;
}
export const agentJobPickedUpSignal = defineSignal<[AgentPickup]>('agentJobPickedUp');

/** Sent by the API, just before it cancels the run, after it checked who may cancel: the process journals who and why. */
export interface CancelRequest {
  reason: string;
  userId: string;
  partyId: string;
  attestation?: Signature;
}
export const cancelProcessSignal = defineSignal<[CancelRequest]>('cancelProcess');

/** A monitoring alert for an incident's alert key, sent with signalWithStart: the first opens it, repeats are counted. */
export interface IncidentAlert {
  alertKey: string;
  title: string;
  /** The monitoring system's severity, as a priority. */
  priority?: 'P1' | 'P2' | 'P3' | 'P4';
  /** When the API received it (the workflow journals it). */
  receivedAt: string;
  /** `signature` (HMAC-signed webhook) or `agent:<agentId>` (an API key of the provider's monitoring agent). */
  via: string;
  /** The monitoring system's id of the alert, when it gave one. */
  alertId?: string;
}
export const incidentAlertSignal = defineSignal<[IncidentAlert]>('incidentAlert');

/** Sent by the API when a signed alert this incident already received comes again within its window: journaled, never counted. */
export interface AlertReplay {
  alertKey: string;
  /** `id:<alert id>` or `sig:<digest of the signed timestamp and body>`. */
  nonce: string;
  firstReceivedAt: string;
  receivedAt: string;
  /** Where the replay came from, as the API saw it (the client address). */
  from?: string;
}
export const alertReplayedSignal = defineSignal<[AlertReplay]>('alertReplayed');

/** An incident as its query shows it, beside the process state (which holds the SLA clock). */
export interface IncidentState {
  openedAt: string;
  /** Set at triage; the reporter's priority until then. */
  priority?: 'P1' | 'P2' | 'P3' | 'P4';
  triaged: boolean;
  /** Alerts received for its alert key, the opening one included. */
  alerts: { count: number; lastAt?: string };
  reopened: number;
  /** The party the incident waits on now, when it is not the provider. */
  waitingOn?: string;
}
export const incidentStateQuery = defineQuery<IncidentState>('incidentState');
