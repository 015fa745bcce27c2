import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Catalogue, ProcessDefinition } from '../../domain/catalogue';
import { coverage, coverageReport, processClosure } from '../../domain/coverage';
import { aContract, aRow } from '../support/builders';

function processOf(key: string, parts: Partial<ProcessDefinition> = {}): ProcessDefinition {
  return { key, title: key, services: ['mco'], activityKeys: [], starts: [], input: z.object({}), ...parts };
}

const catalogue: Catalogue = {
  backup: processOf('backup', { activityKeys: ['backup.run', 'backup.verify'], starts: ['incident'] }),
  incident: processOf('incident', { services: ['support'], activityKeys: ['incident.triage', 'incident.resolve'] }),
  ping: processOf('ping', { activityKeys: ['ping.send'], starts: ['pong'] }),
  pong: processOf('pong', { activityKeys: ['pong.send'], starts: ['ping', 'pong'] }),
  broken: processOf('broken', { starts: ['nowhere'] }),
};

describe('coverage', () => {
  it('when the employee onboarding rows and bpo-hr are there then it is covered', () => {
    const contract = aContract()
      .withService('bpo-hr')
      .with((c) => {
        for (const k of ['hr.request-account', 'iam.create-accounts', 'iam.grant-privileged', 'equipment.ship-laptop', 'onboarding.confirm']) c.responsibilities[k] = aRow();
      })
      .build();
    expect(coverage(contract, 'employee-onboarding')).toEqual({
      process: 'employee-onboarding',
      covered: true,
      missingServices: [],
      missingActivities: [],
      unknownProcesses: [],
    });
  });

  it('when the service is not subscribed and a key has no row then both are reported', () => {
    const contract = aContract().withService('mco').withRow('hr.request-account').build();
    expect(coverage(contract, 'employee-onboarding')).toEqual({
      process: 'employee-onboarding',
      covered: false,
      missingServices: ['bpo-hr'],
      missingActivities: ['equipment.ship-laptop', 'iam.create-accounts', 'iam.grant-privileged', 'onboarding.confirm'],
      unknownProcesses: [],
    });
  });

  it('when a started process lacks keys and its service then they count as missing for the starter', () => {
    const contract = aContract().withService('mco').withRow('backup.run').withRow('backup.verify').withRow('incident.triage').build();
    expect(coverage(contract, 'backup', catalogue)).toMatchObject({
      covered: false,
      missingServices: ['support'],
      missingActivities: ['incident.resolve'],
    });
    expect(coverage(contract, 'incident', catalogue).missingActivities).toEqual(['incident.resolve']);
  });

  it('when processes start each other in a cycle then coverage terminates and reports each key once', () => {
    const contract = aContract().build();
    expect(coverage(contract, 'ping', catalogue)).toMatchObject({ missingServices: ['mco'], missingActivities: ['ping.send', 'pong.send'] });
  });

  it('when a process or one it starts is not in the catalogue then it is reported unknown', () => {
    const contract = aContract().withService('mco').build();
    expect(coverage(contract, 'broken', catalogue)).toMatchObject({ covered: false, unknownProcesses: ['nowhere'] });
    expect(coverage(contract, 'nothing', catalogue)).toMatchObject({ covered: false, unknownProcesses: ['nothing'] });
    expect(coverage(contract, 'toString', catalogue)).toMatchObject({ unknownProcesses: ['toString'] });
  });

  it('when a process has alternative services then any one subscribed covers it', () => {
    const alt: Catalogue = { watch: processOf('watch', { services: ['security-monitoring', 'mco'] }) };
    expect(coverage(aContract().withService('mco').build(), 'watch', alt).covered).toBe(true);
    expect(coverage(aContract().build(), 'watch', alt).missingServices).toEqual(['mco', 'security-monitoring']);
  });

  it('when a report is asked then every catalogue process has its line', () => {
    expect(coverageReport(aContract().build(), catalogue).map((c) => c.process)).toEqual(['backup', 'broken', 'incident', 'ping', 'pong']);
  });

  it('when a service or a row is added then no missing item appears', () => {
    const services = ['mco', 'support', 'bpo-hr', 'bpo-finance'] as const;
    const keys = ['a.one', 'a.two', 'b.one', 'b.two', 'c.one'];
    const processKeys = ['p1', 'p2', 'p3', 'p4'];
    const generatedCatalogue = fc
      .array(
        fc.record({
          services: fc.subarray([...services], { minLength: 1, maxLength: 2 }),
          activityKeys: fc.subarray(keys),
          starts: fc.subarray([...processKeys, 'ghost']),
        }),
        { minLength: processKeys.length, maxLength: processKeys.length },
      )
      .map((defs) => Object.fromEntries(defs.map((d, i) => [processKeys[i]!, processOf(processKeys[i]!, d)])) as Catalogue);
    const missing = (c: ReturnType<typeof coverage>) => [...c.missingServices.map((s) => `s:${s}`), ...c.missingActivities.map((k) => `k:${k}`), ...c.unknownProcesses.map((p) => `p:${p}`)];

    fc.assert(
      fc.property(
        generatedCatalogue,
        fc.subarray([...services]),
        fc.subarray(keys),
        fc.constantFrom(...processKeys),
        fc.oneof(fc.record({ service: fc.constantFrom(...services) }), fc.record({ key: fc.constantFrom(...keys) })),
        (cat, subscribed, rows, processKey, addition) => {
          let builder = aContract().withService(...subscribed);
          for (const k of rows) builder = builder.withEntry(k, aRow());
          const before = coverage(builder.build(), processKey, cat);
          builder = 'service' in addition ? builder.withService(addition.service) : builder.withRow(addition.key);
          const after = coverage(builder.build(), processKey, cat);
          expect(missing(before)).toEqual(expect.arrayContaining(missing(after)));
          if (before.covered) expect(after.covered).toBe(true);
        },
      ),
    );
  });
});

describe('processClosure', () => {
  it('when a process starts others then its closure lists it first and each reachable definition once', () => {
    expect(processClosure('backup', catalogue).map((p) => p.key)).toEqual(['backup', 'incident']);
    expect(processClosure('pong', catalogue).map((p) => p.key)).toEqual(['pong', 'ping']);
    expect(processClosure('employee-onboarding').map((p) => p.key)).toEqual(['employee-onboarding']);
    expect(processClosure('nothing', catalogue)).toEqual([]);
  });
});
