// What Mandate can run: the services a contract may subscribe to and the processes
// that deliver them. Adding a process is one entry in `definitions`.
import { z } from 'zod';
import { ActionDurationsInput, WindowOverride } from './change';
import { IsoDate } from './ids';
import { RunbookStart } from './runbook';

export const SERVICES = {
  mco: 'Keeping systems operational: patching, backups, restore tests.',
  'security-monitoring': 'Watching for and reacting to security events.',
  support: 'Service desk: incidents and requests by priority.',
  'application-management': 'Running and maintaining the client\'s applications.',
  'bpo-hr': 'HR back office: onboarding and offboarding employees.',
  'bpo-finance': 'Finance back office: invoice runs.',
} as const satisfies Record<string, string>;

export const ServiceKey = z.enum(Object.keys(SERVICES) as [keyof typeof SERVICES, ...(keyof typeof SERVICES)[]], {
  error: (iss) => `unknown service "${String(iss.input)}": expected one of ${Object.keys(SERVICES).join(', ')}`,
});
export type ServiceKey = z.infer<typeof ServiceKey>;

export interface ProcessDefinition<Input extends z.ZodType = z.ZodType> {
  key: string;
  title: string;
  /** The process is covered when ANY of these services is subscribed. */
  services: readonly string[];
  /** Every activity key its steps resolve; each needs a row in the matrix. */
  activityKeys: readonly string[];
  /** Processes it may start (a failed backup opens an incident): coverage follows them. */
  starts: readonly string[];
  input: Input;
}

export const EmployeeOnboardingInput = z.strictObject({
  employee: z.strictObject({
    firstName: z.string().min(1),
    lastName: z.string().min(1),
    email: z.email(),
    department: z.string().min(1),
    startDate: IsoDate,
    jobTitle: z.string().min(1).optional(),
  }),
  privilegedGroups: z
    .array(z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'expected a group name: lower-case letters, digits, dots, dashes, underscores'))
    .default([]),
  laptop: z
    .strictObject({
      model: z.string().min(1),
      shipTo: z.string().min(1),
    })
    .optional(),
});
export type EmployeeOnboardingInput = z.infer<typeof EmployeeOnboardingInput>;

const Priority = z.enum(['P1', 'P2', 'P3', 'P4']);
const AssetId = z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'expected an asset id of the scope');

export const IncidentInput = z.strictObject({
  title: z.string().min(1).max(200),
  description: z.string().max(5000).default(''),
  /** The reporter's view; triage sets the priority that counts. */
  priority: Priority.optional(),
  source: z.strictObject({
    kind: z.enum(['client', 'monitoring', 'process']),
    /** Monitoring alert key, or the id of the process that opened it. */
    ref: z.string().max(200).optional(),
  }),
  asset: AssetId.optional(),
});
export type IncidentInput = z.infer<typeof IncidentInput>;

export const BackupInput = z.strictObject({
  /** Defaults to every asset of the contract's backup policy. */
  assets: z.array(AssetId).min(1).optional(),
  /** The business day the run belongs to (scheduled runs: from the scheduled time). */
  day: IsoDate.optional(),
  /** Overrides when the watchdog fires (default: the policy's `expectedBy` on the run's day); for tests and drills. */
  watchdogAt: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/, 'expected an instant such as 2027-03-08T03:00:00+01:00')
    .optional(),
});
export type BackupInput = z.infer<typeof BackupInput>;

export const RestoreTestInput = z.strictObject({
  /** Defaults to the first asset of the backup policy. */
  asset: AssetId.optional(),
  /** Defaults to the asset's latest verified backup. */
  backupId: z.string().max(200).optional(),
});
export type RestoreTestInput = z.infer<typeof RestoreTestInput>;

export const PatchCycleInput = z.strictObject({
  /** Typed by the contract's change policy. */
  changeType: z.enum(['standard', 'normal', 'emergency']),
  /** For a standard change: which pre-approved change of the policy this is. */
  standardChange: z.string().optional(),
  assets: z.array(AssetId).min(1),
  batchSize: z.number().int().min(1).max(100).default(1),
  /** The maintenance window to run in (default: the first one of the contract). */
  window: z.string().optional(),
  patches: z.string().max(500).default('all-security'),
  /** Expected duration of each action for one server; conservative defaults otherwise (domain/change.ts). */
  durations: ActionDurationsInput.optional(),
  /**
   * An exception to the contract (docs/ARCHITECTURE.md "Change policy"): a window occurrence of
   * the requester's instead of the contract's windows (freezes still apply). With `durations`,
   * an emergency-change decision of a provider operator, with its reason (`exceptionReason`).
   */
  windowOverride: WindowOverride.optional(),
  /** Why the change runs outside the contract's windows or with other durations: journaled, shown to the approver. */
  exceptionReason: z.string().trim().min(1).max(1000).optional(),
});
export type PatchCycleInput = z.infer<typeof PatchCycleInput>;

const definitions = {
  'employee-onboarding': {
    key: 'employee-onboarding',
    title: 'Employee onboarding',
    services: ['bpo-hr'],
    activityKeys: ['hr.request-account', 'iam.create-accounts', 'iam.grant-privileged', 'equipment.ship-laptop', 'onboarding.confirm'],
    starts: [],
    input: EmployeeOnboardingInput,
  },
  incident: {
    key: 'incident',
    title: 'Incident',
    services: ['support', 'security-monitoring'],
    activityKeys: ['incident.triage', 'incident.resolve', 'incident.client-info', 'incident.confirm'],
    starts: [],
    input: IncidentInput,
  },
  backup: {
    key: 'backup',
    title: 'Backup run',
    services: ['mco'],
    activityKeys: ['backup.run', 'backup.verify'],
    starts: ['incident'],
    input: BackupInput,
  },
  'restore-test': {
    key: 'restore-test',
    title: 'Restore test',
    services: ['mco'],
    activityKeys: ['backup.restore-test'],
    starts: ['incident'],
    input: RestoreTestInput,
  },
  'patch-cycle': {
    key: 'patch-cycle',
    title: 'Patch cycle',
    services: ['mco'],
    activityKeys: ['change.patch', 'vm.snapshot', 'vm.patch', 'vm.health-check', 'vm.restore-snapshot', 'change.report'],
    starts: ['incident'],
    input: PatchCycleInput,
  },
  // One interpreter for every registered runbook: its service and activity keys are the
  // runbook's own, so coverage is checked per run, on the pinned definition (api/services/runbooks.ts).
  runbook: {
    key: 'runbook',
    title: 'Runbook',
    services: [],
    activityKeys: [],
    starts: [],
    input: RunbookStart,
  },
} as const satisfies Record<string, ProcessDefinition>;

export type ProcessKey = keyof typeof definitions;

/** A catalogue as coverage and validation take it: the real one, or one a test injects. */
export type Catalogue = Readonly<Record<string, ProcessDefinition>>;

/** The catalogue of processes: typed per known key, and indexable by any string (→ possibly undefined). */
export const PROCESSES: { readonly [K in ProcessKey]: (typeof definitions)[K] } & Catalogue = Object.freeze(definitions);

export function getProcess(key: string): ProcessDefinition | undefined {
  return Object.hasOwn(PROCESSES, key) ? PROCESSES[key] : undefined;
}
