// What Mandate can run: the services a contract may subscribe to and the processes
// that deliver them. Adding a process is one entry in `definitions`.
import { z } from 'zod';
import { IsoDate } from './ids';

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

const definitions = {
  'employee-onboarding': {
    key: 'employee-onboarding',
    title: 'Employee onboarding',
    services: ['bpo-hr'],
    activityKeys: ['hr.request-account', 'iam.create-accounts', 'iam.grant-privileged', 'equipment.ship-laptop', 'onboarding.confirm'],
    starts: [],
    input: EmployeeOnboardingInput,
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
