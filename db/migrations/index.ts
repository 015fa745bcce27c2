// Listed in code, not read from a folder, so migrations run the same under tsx and bundlers.
import type { Migration, MigrationProvider } from 'kysely';
import * as initial from './0001_initial';
import * as admin from './0002_admin';
import * as taskAssignee from './0003_task_assignee';
import * as agentJobs from './0005_agent_jobs';
import * as slaRecords from './0006_sla_records';
import * as runbooks from './0007_runbooks';
import * as oneProvider from './0008_one_provider';
import * as apiKeyChanges from './0009_api_key_changes';
import * as alertNonces from './0010_alert_nonces';
import * as userRoleChanges from './0011_user_role_changes';
import * as signingKeys from './0012_signing_keys';
import * as contractSigning from './0013_contract_signing';

const migrations: Record<string, Migration> = {
  '0001_initial': initial,
  '0002_admin': admin,
  '0003_task_assignee': taskAssignee,
  '0005_agent_jobs': agentJobs,
  '0006_sla_records': slaRecords,
  '0007_runbooks': runbooks,
  '0008_one_provider': oneProvider,
  '0009_api_key_changes': apiKeyChanges,
  '0010_alert_nonces': alertNonces,
  '0011_user_role_changes': userRoleChanges,
  '0012_signing_keys': signingKeys,
  '0013_contract_signing': contractSigning,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: () => Promise.resolve(migrations),
};
