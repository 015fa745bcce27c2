// Kysely's view of the tables: column names as in SQL (snake_case), rows returned as-is.
import type { ColumnType, Generated, Insertable, RawBuilder, Selectable } from 'kysely';

/** A timestamptz read as a Date; written as a Date or an ISO string. */
export type Timestamp = ColumnType<Date, Date | string, Date | string>;
/** A timestamptz with a database default (usually now()). */
export type CreatedAt = ColumnType<Date, Date | string | undefined, Date | string>;
/** A nullable timestamptz. */
export type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
/** A jsonb column: written through `jsonb(value)` (db/json.ts), read back parsed. */
export type Jsonb<T> = ColumnType<T, RawBuilder<T>, RawBuilder<T>>;
export type NullableJsonb<T> = ColumnType<T | null, RawBuilder<T> | null | undefined, RawBuilder<T> | null>;

export type PartyKind = 'provider' | 'client' | 'third-party';
export type ContractStatus = 'draft' | 'transition' | 'active' | 'reversibility' | 'terminated';
export type ProcessStatus = 'running' | 'completed' | 'failed' | 'cancelled';
export type TaskKind = 'execute' | 'approve' | 'consult' | 'escalation' | 'sign';
export type TaskStatus = 'open' | 'completing' | 'done' | 'cancelled' | 'expired';
export type OutboxStatus = 'pending' | 'sent' | 'parked' | 'no-endpoint';

export interface PartiesTable {
  id: string;
  kind: PartyKind;
  name: string;
  timezone: string;
  contracted_by: string | null;
  created_at: CreatedAt;
}

export interface UsersTable {
  id: string;
  party_id: string;
  name: string | null;
  roles: string[];
  team: string | null;
  created_at: CreatedAt;
}

export interface AgentsTable {
  id: string;
  party_id: string;
  site: string | null;
  created_at: CreatedAt;
}

export interface ApiKeysTable {
  id: string;
  prefix: string;
  secret_hash: string;
  party_id: string;
  user_id: string | null;
  agent_id: string | null;
  roles: string[];
  created_at: CreatedAt;
  last_used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
}

export interface ContractsTable {
  id: string;
  provider_id: string;
  client_id: string;
  status: ContractStatus;
  current_version: number;
  currency: string;
  created_at: CreatedAt;
  updated_at: CreatedAt;
  terminated_at: NullableTimestamp;
  terminated_by: ColumnType<string | null, string | null | undefined, string | null>;
  termination_reason: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface ContractPartiesTable {
  contract_id: string;
  party_id: string;
}

export interface ContractVersionsTable {
  contract_id: string;
  version: number;
  document: Jsonb<unknown>;
  created_by: string | null;
  created_at: CreatedAt;
}

export type ContractVersionState = 'proposed' | 'signed' | 'declined';

/** A version proposed through the API: proposed until both parties signed it (signed) or the proposal ended otherwise (declined). */
export interface ContractProposalsTable {
  contract_id: string;
  version: number;
  state: ColumnType<ContractVersionState, ContractVersionState | undefined, ContractVersionState>;
  document_sha256: string;
  process_id: string | null;
  proposed_by: string;
  created_at: CreatedAt;
  decided_at: NullableTimestamp;
}

export interface ProcessesTable {
  id: string;
  contract_id: string;
  contract_version: number;
  process_type: string;
  business_key: string;
  requested_by: string;
  requested_by_party: string;
  status: ColumnType<ProcessStatus, ProcessStatus | undefined, ProcessStatus>;
  current_step: string | null;
  started_at: CreatedAt;
  ended_at: NullableTimestamp;
}

export interface TasksTable {
  id: string;
  process_id: string;
  step_key: string;
  kind: TaskKind;
  party_id: string;
  team: string | null;
  requested_by: string | null;
  title: string;
  payload: Jsonb<unknown>;
  status: ColumnType<TaskStatus, TaskStatus | undefined, TaskStatus>;
  due_at: NullableTimestamp;
  hard_deadline_at: NullableTimestamp;
  claimed_by: string | null;
  claimed_at: NullableTimestamp;
  submission: NullableJsonb<unknown>;
  completed_by: string | null;
  completed_at: NullableTimestamp;
  created_at: CreatedAt;
  /** One user of the task's party it is assigned to (reassign); null: the whole party's inbox. */
  assignee_user_id: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface JournalTable {
  process_id: string;
  seq: number;
  at: Timestamp;
  step_key: string | null;
  event: string;
  party_id: string | null;
  actor: string | null;
  clause: string | null;
  data: Jsonb<unknown>;
  prev_hash: string;
  hash: string;
}

export interface OutboxTable {
  id: Generated<number>;
  effect_key: string;
  party_id: string;
  event: string;
  payload: Jsonb<unknown>;
  status: ColumnType<OutboxStatus, OutboxStatus | undefined, OutboxStatus>;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: CreatedAt;
  last_error: string | null;
  created_at: CreatedAt;
  sent_at: NullableTimestamp;
  /** Ids of the endpoints this row was delivered to (a webhook subscription id, or `config`). */
  delivered_to: ColumnType<string[], string[] | undefined, string[]>;
}

export interface WebhookSubscriptionsTable {
  id: string;
  party_id: string;
  url: string;
  /** Sealed by db/secret-box.ts, never the clear secret. */
  secret: string;
  events: string[];
  created_at: CreatedAt;
  disabled_at: NullableTimestamp;
}

export interface IdempotencyKeysTable {
  key_id: string;
  key: string;
  request_hash: string;
  response_status: number | null;
  /** Sealed JSON of the response body. */
  response_body: string | null;
  created_at: CreatedAt;
}

export interface MonitoringAlertNoncesTable {
  contract_id: string;
  nonce: string;
  expires_at: Date | string;
  received_at: CreatedAt;
  process_id: string | null;
}

export type AgentJobStatus = 'offered' | 'running' | 'succeeded' | 'failed' | 'withdrawn';

export interface AgentJobsTable {
  id: string;
  process_id: string;
  step_key: string;
  party_id: string;
  action: string;
  params: Jsonb<Record<string, unknown>>;
  idempotency_key: string;
  status: ColumnType<AgentJobStatus, AgentJobStatus | undefined, AgentJobStatus>;
  agent_id: string | null;
  attempt: ColumnType<number, number | undefined, number>;
  task_token: string | null;
  pickup_deadline_at: NullableTimestamp;
  picked_at: NullableTimestamp;
  heartbeat_at: NullableTimestamp;
  output: NullableJsonb<unknown>;
  reason: string | null;
  retryable: boolean | null;
  created_at: CreatedAt;
  finished_at: NullableTimestamp;
}

export interface SlaRecordsTable {
  process_id: string;
  clock: string;
  contract_id: string;
  clause: string;
  priority: string | null;
  target: string;
  target_ms: number;
  elapsed_ms: number | null;
  breached: boolean;
  breached_at: NullableTimestamp;
  stopped_at: NullableTimestamp;
  penalties_apply: boolean;
  started_at: Timestamp;
}

export interface RunbooksTable {
  key: string;
  version: number;
  title: string;
  service: string;
  /** The validated runbook document (domain/runbook.ts). */
  definition: Jsonb<unknown>;
  created_by: string | null;
  created_by_party: string;
  created_at: CreatedAt;
}

export interface SigningKeysTable {
  id: string;
  party_id: string;
  user_id: string;
  /** Ed25519, 32 bytes in hex. */
  public_key: string;
  label: string | null;
  registered_by: string;
  created_at: CreatedAt;
  revoked_at: NullableTimestamp;
  revoked_by: string | null;
}

export interface Schema {
  parties: PartiesTable;
  users: UsersTable;
  agents: AgentsTable;
  api_keys: ApiKeysTable;
  contracts: ContractsTable;
  contract_parties: ContractPartiesTable;
  contract_versions: ContractVersionsTable;
  contract_proposals: ContractProposalsTable;
  processes: ProcessesTable;
  tasks: TasksTable;
  journal: JournalTable;
  outbox: OutboxTable;
  webhook_subscriptions: WebhookSubscriptionsTable;
  idempotency_keys: IdempotencyKeysTable;
  agent_jobs: AgentJobsTable;
  sla_records: SlaRecordsTable;
  runbooks: RunbooksTable;
  monitoring_alert_nonces: MonitoringAlertNoncesTable;
  signing_keys: SigningKeysTable;
}

export type PartyRow = Selectable<PartiesTable>;
export type UserRow = Selectable<UsersTable>;
export type AgentRow = Selectable<AgentsTable>;
export type ApiKeyRow = Selectable<ApiKeysTable>;
export type ContractRow = Selectable<ContractsTable>;
export type ContractVersionRow = Selectable<ContractVersionsTable>;
export type ProcessRow = Selectable<ProcessesTable>;
export type TaskRow = Selectable<TasksTable>;
export type NewTaskRow = Insertable<TasksTable>;
export type JournalRow = Selectable<JournalTable>;
export type OutboxRow = Selectable<OutboxTable>;
export type WebhookSubscriptionRow = Selectable<WebhookSubscriptionsTable>;
export type IdempotencyKeyRow = Selectable<IdempotencyKeysTable>;
export type AgentJobRow = Selectable<AgentJobsTable>;
export type SlaRecordRow = Selectable<SlaRecordsTable>;
export type RunbookRow = Selectable<RunbooksTable>;
export type SigningKeyRow = Selectable<SigningKeysTable>;
