// Whether a contract covers a process, checked before it starts: its services and
// the matrix keys of its steps, and of every process it may start.
import { PROCESSES, type Catalogue, type ProcessDefinition } from './catalogue';
import type { Contract } from './contract';

export interface Coverage {
  process: string;
  covered: boolean;
  /** Services of a process none of whose services is subscribed (all its alternatives are listed). */
  missingServices: string[];
  /** Activity keys with no row in the responsibility matrix. */
  missingActivities: string[];
  /** Process keys the catalogue does not define. */
  unknownProcesses: string[];
}

export type CoverageView = Pick<Contract, 'services' | 'responsibilities'>;

/** The process and every process it may start, transitively (cycle-safe), with the keys the catalogue lacks. */
export function processReach(processKey: string, catalogue: Catalogue = PROCESSES): { definitions: ProcessDefinition[]; unknown: string[] } {
  const definitions: ProcessDefinition[] = [];
  const unknown: string[] = [];
  const visited = new Set<string>();
  const pending = [processKey];
  for (let key = pending.shift(); key !== undefined; key = pending.shift()) {
    if (visited.has(key)) continue; // cycles among starts terminate here
    visited.add(key);
    const definition = Object.hasOwn(catalogue, key) ? catalogue[key] : undefined;
    if (definition) {
      definitions.push(definition);
      pending.push(...definition.starts);
    } else unknown.push(key);
  }
  return { definitions, unknown };
}

/** The definitions a run of processKey may involve, itself first: a process slice needs all their keys. */
export function processClosure(processKey: string, catalogue: Catalogue = PROCESSES): ProcessDefinition[] {
  return processReach(processKey, catalogue).definitions;
}

export function coverage(contract: CoverageView, processKey: string, catalogue: Catalogue = PROCESSES): Coverage {
  const subscribed = new Set<string>(contract.services);
  const services = new Set<string>();
  const activities = new Set<string>();
  const reach = processReach(processKey, catalogue);
  const unknown = new Set(reach.unknown);
  for (const definition of reach.definitions) {
    if (definition.services.length > 0 && !definition.services.some((s) => subscribed.has(s))) {
      definition.services.forEach((s) => services.add(s));
    }
    for (const a of definition.activityKeys) if (!Object.hasOwn(contract.responsibilities, a)) activities.add(a);
  }
  const sorted = (s: Set<string>) => [...s].sort();
  return {
    process: processKey,
    covered: services.size === 0 && activities.size === 0 && unknown.size === 0,
    missingServices: sorted(services),
    missingActivities: sorted(activities),
    unknownProcesses: sorted(unknown),
  };
}

/** Coverage of every process of the catalogue, by key order. */
export function coverageReport(contract: CoverageView, catalogue: Catalogue = PROCESSES): Coverage[] {
  return Object.keys(catalogue)
    .sort()
    .map((key) => coverage(contract, key, catalogue));
}
