// Fixture builders: each test states only what matters to it, on top of a small
// valid contract (a provider, a client and the provider's subcontractor).
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';
import type { ServiceKey } from '../../domain/catalogue';
import type { Contract } from '../../domain/contract';
import type { Party } from '../../domain/party';
import type { Responsibility, Row } from '../../domain/responsibility';
import type { Asset } from '../../domain/scope';
import type { Schedule } from '../../domain/terms';

export const PROVIDER = 'acme';
export const CLIENT = 'globex';
export const SUBCONTRACTOR = 'dc-north';

/** A row done by a person of the provider and accounted for by the provider, unless overridden. */
export function aRow(overrides: Partial<Row> = {}): Row {
  return { R: { party: PROVIDER, by: 'person' }, A: PROVIDER, ...overrides };
}

export function aParty(overrides: Partial<Party> & Pick<Party, 'id'>): Party {
  return { kind: 'third-party', contractedBy: PROVIDER, name: overrides.id, timezone: 'Europe/Paris', users: [], agents: [], ...overrides };
}

export function anAsset(overrides: Partial<Asset> & Pick<Asset, 'id'>): Asset {
  return { kind: 'vm', host: PROVIDER, ...overrides };
}

export class ContractBuilder {
  private readonly doc: Contract = {
    id: 'ctr-test',
    title: 'Test contract',
    term: { start: '2027-01-01', end: '2029-12-31' },
    currency: 'EUR',
    parties: [
      aParty({ id: PROVIDER, kind: 'provider', contractedBy: undefined, users: [{ id: 'u-op', roles: ['operator'], team: 'ops' }] }),
      aParty({ id: CLIENT, kind: 'client', contractedBy: undefined, users: [{ id: 'u-cab', roles: ['approver'], team: 'cab' }] }),
      aParty({ id: SUBCONTRACTOR, contractedBy: PROVIDER }),
    ],
    scope: { type: 'partial', domains: ['infrastructure'], assets: [] },
    services: [],
    calendars: {},
    maintenanceWindows: [],
    freezes: [],
    changePolicy: {
      standard: [],
      normal: { approver: 'A', expiresAfter: 'P14D' },
      emergency: { approver: { party: CLIENT }, mayRunInFreeze: false },
    },
    escalation: {},
    responsibilities: {},
    pricing: { monthlyFee: 100_000, vat: '20%', rounding: 'half-up-per-line', outOfScope: {} },
    schedules: {},
  };

  withService(...keys: ServiceKey[]): this {
    this.doc.services.push(...keys);
    return this;
  }

  withParty(party: Party): this {
    this.doc.parties.push(party);
    return this;
  }

  withAsset(asset: Partial<Asset> & Pick<Asset, 'id'>): this {
    this.doc.scope.assets.push(anAsset(asset));
    return this;
  }

  /** Adds a row to an activity; a second row turns the entry into a list. */
  withRow(activityKey: string, row: Partial<Row> = {}): this {
    const existing = this.doc.responsibilities[activityKey];
    const added = aRow(row);
    this.doc.responsibilities[activityKey] = existing === undefined ? added : [...(Array.isArray(existing) ? existing : [existing]), added];
    return this;
  }

  withEntry(activityKey: string, entry: Responsibility): this {
    this.doc.responsibilities[activityKey] = entry;
    return this;
  }

  withSchedule(name: string, schedule: Schedule): this {
    this.doc.schedules[name] = schedule;
    return this;
  }

  /** Any other change, written against the document. */
  with(change: (doc: Contract) => void): this {
    change(this.doc);
    return this;
  }

  build(): Contract {
    return structuredClone(this.doc);
  }
}

export function aContract(): ContractBuilder {
  return new ContractBuilder();
}

/** The sample contract of examples/contract.yaml, as parsed YAML (not yet validated). */
export function sampleContractDocument(): unknown {
  return parse(readFileSync(new URL('../../examples/contract.yaml', import.meta.url), 'utf8'));
}
