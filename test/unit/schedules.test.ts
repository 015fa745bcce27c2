import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseContract, type Contract } from '../../domain/contract';
import {
  businessKeyFor,
  canonicalJson,
  describeCalendar,
  scheduledStartOf,
  schedulesOf,
  specHash,
  toTemporalCalendar,
  type ContractSchedule,
} from '../../domain/schedules';
import { aContract, aParty, CLIENT, PROVIDER } from '../support/builders';

// The sample contract's `schedules:` and `maintenanceWindows:`, verbatim.
const SAMPLE = parse(`
maintenanceWindows:
  - { name: sunday-night, calendar: { dayOfWeek: SUN, hour: 1, minute: 0 }, duration: PT4H }
schedules:
  nightly-backup:   { process: backup, calendar: { hour: 1, minute: 0 } }
  monthly-patching: { process: patch-cycle, calendar: { dayOfWeek: TUE, dayOfMonth: 8-14, hour: 9 }, runIn: sunday-night }
  restore-test:     { process: restore-test, calendar: { dayOfWeek: MON, dayOfMonth: 1-7, hour: 10 } }
  billing:          { process: contract-billing, calendar: { dayOfMonth: 1, hour: 6 } }
`) as Pick<Contract, 'schedules' | 'maintenanceWindows'>;

const PROCESSES = ['employee-onboarding', 'backup', 'patch-cycle', 'restore-test', 'contract-billing'];

function sampleContract(edit: (doc: Contract) => void = () => {}): Contract {
  const doc = aContract()
    .with((c) => {
      c.id = 'ctr-martin-2027';
      c.parties = [
        aParty({ id: PROVIDER, kind: 'provider', contractedBy: undefined, timezone: 'Europe/Paris' }),
        aParty({ id: CLIENT, kind: 'client', contractedBy: undefined, timezone: 'America/New_York' }),
      ];
      c.maintenanceWindows = structuredClone(SAMPLE.maintenanceWindows);
      c.schedules = structuredClone(SAMPLE.schedules);
      edit(c);
    })
    .build();
  const parsed = parseContract(doc, { processes: PROCESSES });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return parsed.contract;
}

const byName = (all: ContractSchedule[], name: string) => all.find((s) => s.name === name)!;

describe('schedulesOf', () => {
  const all = schedulesOf(sampleContract());

  it('when the sample contract is mapped, then each schedule gets a mandate:<contract>:<name> id in the provider zone', () => {
    expect(all.map((s) => [s.id, s.process])).toEqual([
      ['mandate:ctr-martin-2027:billing', 'contract-billing'],
      ['mandate:ctr-martin-2027:monthly-patching', 'patch-cycle'],
      ['mandate:ctr-martin-2027:nightly-backup', 'backup'],
      ['mandate:ctr-martin-2027:restore-test', 'restore-test'],
    ]);
    expect(new Set(all.map((s) => s.timezone))).toEqual(new Set(['Europe/Paris']));
  });

  it('when a spec names a weekday and a day range, then both must match: the second Tuesday at 09:00', () => {
    expect(byName(all, 'monthly-patching').calendars).toEqual([
      { dayOfWeek: [{ start: 'TUESDAY', end: 'TUESDAY', step: 1 }], dayOfMonth: [{ start: 8, end: 14, step: 1 }], hour: [{ start: 9, end: 9, step: 1 }] },
    ]);
    expect(byName(all, 'nightly-backup').calendars).toEqual([{ hour: [{ start: 1, end: 1, step: 1 }], minute: [{ start: 0, end: 0, step: 1 }] }]);
    expect(byName(all, 'billing').calendars).toEqual([{ dayOfMonth: [{ start: 1, end: 1, step: 1 }], hour: [{ start: 6, end: 6, step: 1 }] }]);
  });

  it('when the schedule runs in a maintenance window, then the window travels with it', () => {
    expect(byName(all, 'monthly-patching').runIn).toEqual({ name: 'sunday-night', calendar: { dayOfWeek: 'SUN', hour: 1, minute: 0 }, duration: 'PT4H' });
    expect(byName(all, 'billing').runIn).toBeUndefined();
  });

  it('when the work is billing, then overlapping runs are allowed and a missed month is caught up; operational work skips', () => {
    expect(byName(all, 'billing')).toMatchObject({ overlapPolicy: 'ALLOW_ALL', keyBy: 'period' });
    expect(byName(all, 'billing').catchupWindowMs).toBeGreaterThanOrEqual(31 * 24 * 3_600_000);
    expect(byName(all, 'nightly-backup')).toMatchObject({ overlapPolicy: 'SKIP', catchupWindowMs: 3_600_000, keyBy: 'day' });
    expect(byName(all, 'monthly-patching').overlapPolicy).toBe('SKIP');
    expect(byName(all, 'restore-test').overlapPolicy).toBe('SKIP');
  });

  it('when the client sits in another zone, then the provider zone still rules', () => {
    expect(all.every((s) => s.timezone !== 'America/New_York')).toBe(true);
  });
});

describe('toTemporalCalendar', () => {
  it('when fields are names, ranges and lists, then each becomes Temporal ranges', () => {
    expect(toTemporalCalendar({ dayOfWeek: 'MON-FRI', month: ['JAN', 'JUL-AUG'], hour: [8, '12-14'], minute: 30 })).toEqual({
      dayOfWeek: [{ start: 'MONDAY', end: 'FRIDAY', step: 1 }],
      month: [
        { start: 'JANUARY', end: 'JANUARY', step: 1 },
        { start: 'JULY', end: 'AUGUST', step: 1 },
      ],
      hour: [
        { start: 8, end: 8, step: 1 },
        { start: 12, end: 14, step: 1 },
      ],
      minute: [{ start: 30, end: 30, step: 1 }],
    });
  });

  it('when days are numbers, then 0 is Sunday and 6 Saturday', () => {
    expect(toTemporalCalendar({ dayOfWeek: '0-6' }).dayOfWeek).toEqual([{ start: 'SUNDAY', end: 'SATURDAY', step: 1 }]);
    expect(toTemporalCalendar({ month: 12 }).month).toEqual([{ start: 'DECEMBER', end: 'DECEMBER', step: 1 }]);
  });

  it('when a spec is described for people, then it reads as the contract wrote it', () => {
    expect(describeCalendar({ dayOfWeek: 'TUE', dayOfMonth: '8-14', hour: 9 })).toBe('dayOfMonth=8-14 dayOfWeek=TUE hour=9');
  });
});

describe('specHash', () => {
  const base = schedulesOf(sampleContract());

  it('when the same contract is mapped twice, or its keys come in another order, then every hash is the same', () => {
    const again = schedulesOf(sampleContract((c) => {
      c.schedules = Object.fromEntries(Object.entries(c.schedules).reverse());
    }));
    expect(again.map((s) => s.specHash)).toEqual(base.map((s) => s.specHash));
    expect(specHash({ a: 1, b: [1, 2] })).toBe(specHash({ b: [1, 2], a: 1 }));
    expect(canonicalJson({ b: 1, a: { d: undefined, c: 2 } })).toBe('{"a":{"c":2},"b":1}');
    expect(specHash('x')).toMatch(/^[0-9a-f]{16}$/);
  });

  it('when one spec changes, then only that hash changes', () => {
    const amended = schedulesOf(sampleContract((c) => {
      c.schedules['nightly-backup']!.calendar = { hour: 2, minute: 0 };
    }));
    const changed = amended.filter((s, i) => s.specHash !== base[i]!.specHash).map((s) => s.name);
    expect(changed).toEqual(['nightly-backup']);
  });

  it('when the provider zone or the maintenance window changes, then the schedules that depend on it change', () => {
    const moved = schedulesOf(sampleContract((c) => {
      c.parties[0]!.timezone = 'Europe/London';
    }));
    expect(moved.every((s, i) => s.specHash !== base[i]!.specHash)).toBe(true);
    const longer = schedulesOf(sampleContract((c) => {
      c.maintenanceWindows[0]!.duration = 'PT6H';
    }));
    expect(longer.filter((s, i) => s.specHash !== base[i]!.specHash).map((s) => s.name)).toEqual(['monthly-patching']);
  });

  it('when hashes of nearby values are compared, then they differ', () => {
    const hashes = new Set(Array.from({ length: 2000 }, (_, i) => specHash({ hour: i % 24, minute: Math.floor(i / 24) })));
    expect(hashes.size).toBe(2000);
  });
});

describe('businessKeyFor', () => {
  it('when billing runs, then the key is the period in the schedule zone', () => {
    expect(businessKeyFor('billing', '2027-03-01T05:00:00Z', 'contract-billing', { timezone: 'Europe/Paris' })).toBe('2027-03');
    // 00:30 on 1 March in Paris is still February in UTC.
    expect(businessKeyFor('billing', '2027-02-28T23:30:00Z', 'contract-billing', { timezone: 'Europe/Paris' })).toBe('2027-03');
    expect(businessKeyFor('billing', '2027-02-28T23:30:00Z', 'contract-billing')).toBe('2027-02');
  });

  it('when daily or weekly work runs, then the key is the schedule and the local date', () => {
    expect(businessKeyFor('nightly-backup', '2027-03-08T00:00:00Z', 'backup', { timezone: 'Europe/Paris' })).toBe('nightly-backup.2027-03-08');
    expect(businessKeyFor('monthly-patching', '2027-03-09T08:00:00Z', 'patch-cycle', { timezone: 'Europe/Paris', keyBy: 'day' })).toBe('monthly-patching.2027-03-09');
  });

  it('when work runs several times a day, then the key carries the local time', () => {
    const contract = sampleContract((c) => {
      c.schedules['health'] = { process: 'backup', calendar: { hour: '8-18', minute: 0 } };
    });
    const health = schedulesOf(contract).find((s) => s.name === 'health')!;
    expect(health.keyBy).toBe('time');
    expect(businessKeyFor('health', '2027-03-08T09:00:00Z', 'backup', { timezone: health.timezone, keyBy: health.keyBy })).toBe('health.2027-03-08T10:00');
  });

  it('when the key is used in a process id, then it fits the API business key pattern', () => {
    for (const key of ['2027-03', 'nightly-backup.2027-03-08', 'health.2027-03-08T10:00']) expect(key).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
    expect(() => businessKeyFor('x', 'not-a-time', 'backup')).toThrow(RangeError);
  });
});

describe('scheduledStartOf', () => {
  it('when a schedule starts a run, then it passes a ProcessStart with an empty business key, on behalf of the provider', () => {
    const contract = sampleContract();
    const billing = byName(schedulesOf(contract), 'billing');
    expect(scheduledStartOf(contract, 3, billing)).toEqual({
      contractId: 'ctr-martin-2027',
      version: 3,
      processType: 'contract-billing',
      businessKey: '',
      requestedBy: { userId: 'schedule:billing', partyId: PROVIDER },
      input: {},
      schedule: { id: 'mandate:ctr-martin-2027:billing', name: 'billing', timezone: 'Europe/Paris', keyBy: 'period' },
    });
  });
});

describe('a schedule with an input', () => {
  it("when the contract gives a schedule's input, then every run starts with it and a change of it changes the hash", async () => {
    const { readContractFile } = await import('../../scripts/load-example');
    const { PatchCycleInput } = await import('../../domain/catalogue');
    const contract = await readContractFile('examples/contract.yaml');
    const patching = schedulesOf(contract).find((s) => s.name === 'monthly-patching')!;
    const start = scheduledStartOf(contract, 1, patching);
    expect(PatchCycleInput.safeParse(start.input).success).toBe(true);
    const changed = structuredClone(contract);
    (changed.schedules['monthly-patching']!.input as { batchSize: number }).batchSize = 1;
    expect(schedulesOf(changed).find((s) => s.name === 'monthly-patching')!.specHash).not.toBe(patching.specHash);
  });
});
